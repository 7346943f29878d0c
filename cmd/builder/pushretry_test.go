package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/spf13/pflag"

	"github.com/builderdev/builder/internal/testenv"
	"github.com/builderdev/builder/store"
)

func TestRegistryRetriesFlag(t *testing.T) {
	var o registryOptions
	fs := pflag.NewFlagSet("build", pflag.ContinueOnError)
	o.AddFlags(fs)
	if int(o.retries) != 5 || o.retryWait != time.Second {
		t.Errorf("defaults: %d tries, first wait %s; want 5 and 1s", o.retries, o.retryWait)
	}
	for _, bad := range []string{"0", "-1", "many"} {
		err := fs.Parse([]string{"--registry-retries", bad})
		if err == nil || !strings.Contains(err.Error(), "--registry-retries") {
			t.Errorf("--registry-retries %s: %v, want an error naming the flag", bad, err)
		}
	}

	// The flag reaches the pushes: a registry that is down is given up on
	// after exactly the tries asked for.
	root := t.TempDir()
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Tag(context.Background(), "app:1", img); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String()
	l.Close()
	start := time.Now()
	_, err = runCommand(t, pushCommand(), root, "", "--registry-retries", "3", "--registry-retry-wait", "10ms", "app:1", down+"/team/app:1")
	t.Logf("push to a registry that is down: %v", err)
	if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), "gave up after 3 tries") {
		t.Errorf("push to a registry that is down: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("gave up after %s", d)
	}
}

// A push to several refs says which were pushed and which not; each ref
// is either the whole image or untouched.
func TestMultiRefPushSaysWhichWerePushed(t *testing.T) {
	reg := testenv.StartRegistry(t)
	target, err := url.Parse(reg.URL())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The registry refuses manifests in ro/.
		if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/v2/ro/") && strings.Contains(r.URL.Path, "/manifests/") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"errors":[{"code":"DENIED","message":"read only"}]}`))
			return
		}
		rp.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	refs := []string{host + "/team/app:1", host + "/ro/app:1", host + "/team/app:2"}
	o := registryOptions{retries: 2, retryWait: time.Millisecond, jobs: 2}
	var reported []string
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	done, err := runPushes(ctx, o.pusher(func(p pushed) { reported = append(reported, p.ref) }), nil, img, []pushTarget{{refs: refs[:2]}, {refs: refs[2:]}})
	if err == nil {
		t.Fatal("push to a read-only repository succeeded")
	}
	t.Logf("partial push: %v", err)
	want := "(pushed: " + refs[0] + "; not pushed: " + refs[1] + ", " + refs[2] + ")"
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "denied") {
		t.Errorf("error %q\nlacks %q", err, want)
	}
	if len(done) != 1 || done[0] != refs[0] || len(reported) != 1 {
		t.Errorf("done %q, reported %q; want only %s", done, reported, refs[0])
	}
	testenv.SkopeoInspect(t, "docker://"+reg.Ref("team/app:1"), reg.SkopeoFlags("")...)
	for _, r := range []string{"ro/app:1", "team/app:2"} {
		if out, err := testenv.SkopeoErr(t, append([]string{"inspect"}, append(reg.SkopeoFlags(""), "docker://"+reg.Ref(r))...)...); err == nil {
			t.Errorf("%s exists after its push failed:\n%s", r, out)
		}
	}
}
