package exporter

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/builderdev/builder/internal/testenv"
	"github.com/builderdev/builder/registry"
)

func TestPushPlainRegistry(t *testing.T) {
	reg := testenv.StartRegistry(t)
	ctx := testCtx(t)
	img := pushImage(t, "plain")
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{reg.Ref("app:1"), reg.Ref("app:1"), reg.Ref("other/app:latest")} {
		got, err := Push(ctx, img, ref, registry.WithKeychain(anonymous), registry.WithCertsDir(""))
		if err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
		if got != want {
			t.Errorf("push %s returned %s, image digest %s", ref, got, want)
		}
		if sd := skopeoDigest(t, reg, ref); sd != got.String() {
			t.Errorf("skopeo sees %s for %s, Push returned %s", sd, ref, got)
		}
	}
	// By digest too.
	byDigest := reg.Ref("app@" + want.String())
	if _, err := Push(ctx, img, byDigest, registry.WithKeychain(anonymous), registry.WithCertsDir("")); err != nil {
		t.Fatalf("push by digest: %v", err)
	}
	// The layers skopeo lists are the image's.
	out := testenv.SkopeoInspect(t, "docker://"+reg.Ref("app:1"), append(reg.SkopeoFlags(""), "--raw")...)
	ls, _ := img.Layers()
	for _, l := range ls {
		d, _ := l.Digest()
		if !strings.Contains(string(out), d.String()) {
			t.Errorf("manifest lacks layer %s:\n%s", d, out)
		}
	}
}

func TestPushTLSBasicAuth(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.WithBasicAuth("alice", "s3cret"))
	ctx := testCtx(t)
	img := pushImage(t, "tls")
	certs := certsDirFor(t, reg.CAFile, reg.Host())
	authFile := reg.DockerConfigDir(t) + "/config.json"
	good := registry.NewKeychain(registry.WithGetenv(func(k string) string {
		if k == "REGISTRY_AUTH_FILE" {
			return authFile
		}
		return ""
	}))
	badFile := t.TempDir() + "/auth.json"
	writeFile(t, badFile, `{"auths":{"`+reg.Host()+`":{"auth":"YWxpY2U6d3Jvbmc="}}}`) // alice:wrong
	bad := registry.NewKeychain(registry.WithGetenv(func(k string) string {
		if k == "REGISTRY_AUTH_FILE" {
			return badFile
		}
		return ""
	}))
	ref := reg.Ref("secure/app:v1")

	t.Run("ok", func(t *testing.T) {
		got, err := Push(ctx, img, ref, registry.WithKeychain(good), registry.WithCertsDir(certs))
		if err != nil {
			t.Fatal(err)
		}
		if sd := skopeoDigest(t, reg, ref); sd != got.String() {
			t.Errorf("skopeo sees %s, Push returned %s", sd, got)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		_, err := Push(ctx, img, reg.Ref("secure/other:v1"), registry.WithKeychain(bad), registry.WithCertsDir(certs), registry.WithRetry(1, 0))
		wantOneLine(t, err, registry.ErrCredentialsRejected, "push to "+reg.Ref("secure/other:v1")+": authentication failed: the credentials saved for registry "+reg.Host()+" were rejected")
	})
	t.Run("no credentials", func(t *testing.T) {
		_, err := Push(ctx, img, reg.Ref("secure/other:v1"), registry.WithKeychain(anonymous), registry.WithCertsDir(certs), registry.WithRetry(1, 0))
		wantOneLine(t, err, registry.ErrNoCredentials, "authentication required: registry "+reg.Host()+" wants credentials to push to repository \"secure/other\" and none are saved for it")
	})
	t.Run("unknown CA", func(t *testing.T) {
		_, err := Push(ctx, img, ref, registry.WithKeychain(good), registry.WithCertsDir(t.TempDir()), registry.WithRetry(1, 0))
		wantOneLine(t, err, registry.ErrUnknownAuthority,
			"push to "+ref+": certificate signed by unknown authority for "+reg.Host()+" (use --registry-certs")
	})
	t.Run("insecure registry skips verification", func(t *testing.T) {
		got, err := Push(ctx, img, reg.Ref("secure/insecure:v1"), registry.WithKeychain(good), registry.WithCertsDir(""),
			registry.WithInsecureRegistries(reg.Host()))
		if err != nil {
			t.Fatal(err)
		}
		if sd := skopeoDigest(t, reg, reg.Ref("secure/insecure:v1")); sd != got.String() {
			t.Errorf("skopeo sees %s, Push returned %s", sd, got)
		}
	})
}

func TestPushTokenAuth(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.WithTokenAuth("bob", "t0ken-pass"))
	ctx := testCtx(t)
	realm, err := url.Parse(reg.TokenRealm)
	if err != nil {
		t.Fatal(err)
	}
	certs := certsDirFor(t, reg.CAFile, reg.Host(), realm.Host)
	img := pushImage(t, "token")
	authFile := reg.DockerConfigDir(t) + "/config.json"
	kc := registry.NewKeychain(registry.WithGetenv(func(k string) string {
		if k == "REGISTRY_AUTH_FILE" {
			return authFile
		}
		return ""
	}))
	ref := reg.Ref("team/app:1")
	got, err := Push(ctx, img, ref, registry.WithKeychain(kc), registry.WithCertsDir(certs))
	if err != nil {
		t.Fatal(err)
	}
	if sd := skopeoDigest(t, reg, ref); sd != got.String() {
		t.Errorf("skopeo sees %s, Push returned %s", sd, got)
	}
	_, err = Push(ctx, img, ref, registry.WithKeychain(anonymous), registry.WithCertsDir(certs), registry.WithRetry(1, 0))
	wantOneLine(t, err, registry.ErrNoCredentials, "push to "+ref+": authentication required: registry "+reg.Host()+" wants credentials")
}

func TestPushFailsMidwayLeavesNoManifest(t *testing.T) {
	reg := testenv.StartRegistry(t)
	p := newProxy(t, reg)
	var manifestPuts atomic.Int32
	p.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			// The registry dies once the blobs are in.
			manifestPuts.Add(1)
			hangUp(t, w)
			return true
		}
		return false
	}
	ctx := testCtx(t)
	img := pushImage(t, "midway")
	ref := p.host() + "/broken/app:1"
	d, err := Push(ctx, img, ref, registry.WithKeychain(anonymous), registry.WithCertsDir(""), registry.WithRetry(3, 10*time.Millisecond))
	if err == nil {
		t.Fatalf("push succeeded (%s) though the manifest never arrived", d)
	}
	if strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), "push to "+ref+": ") {
		t.Errorf("error is not one line naming the push: %q", err)
	}
	if manifestPuts.Load() == 0 {
		t.Fatal("the manifest was never tried: the test did not fail midway")
	}
	// The blobs reached the registry ...
	ls, _ := img.Layers()
	for _, l := range ls {
		ld, _ := l.Digest()
		resp, err := reg.HTTPClient().Head(reg.URL() + "/v2/broken/app/blobs/" + ld.String())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("blob %s: status %d, want it uploaded", ld, resp.StatusCode)
		}
	}
	// ... but no tag points at the image.
	if out, err := testenv.SkopeoErr(t, append([]string{"inspect"}, append(reg.SkopeoFlags(""), "docker://"+reg.Ref("broken/app:1"))...)...); err == nil {
		t.Errorf("tag exists after a failed push:\n%s", out)
	}
}

func TestPushRetriesAndMounts(t *testing.T) {
	reg := testenv.StartRegistry(t)
	p := newProxy(t, reg)
	var failed atomic.Bool
	p.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		// The first blob upload start fails with a 503 and the next with a reset.
		if r.Method == http.MethodPost && strings.Contains(r.URL.Path, "/blobs/uploads/") && failed.CompareAndSwap(false, true) {
			http.Error(w, "try later", http.StatusServiceUnavailable)
			return true
		}
		return false
	}
	ctx := testCtx(t)
	img := pushImage(t, "mount")
	base := p.host() + "/library/base:1"
	if _, err := Push(ctx, img, base, registry.WithKeychain(anonymous), registry.WithCertsDir(""), registry.WithRetry(4, 10*time.Millisecond)); err != nil {
		t.Fatalf("push with a transient 503: %v", err)
	}
	if !failed.Load() {
		t.Fatal("no request was failed")
	}
	before := len(p.requests())
	app := p.host() + "/team/app:1"
	got, err := Push(ctx, img, app, registry.WithKeychain(anonymous), registry.WithCertsDir(""), registry.WithMountFrom(p.host()+"/library/base"))
	if err != nil {
		t.Fatal(err)
	}
	var mounts, uploads int
	for _, r := range p.requests()[before:] {
		switch {
		case strings.HasPrefix(r, "POST /v2/team/app/blobs/uploads/") && strings.Contains(r, "mount=") && strings.Contains(r, "from=library%2Fbase"):
			mounts++
		case strings.HasPrefix(r, "PATCH ") || strings.HasPrefix(r, "PUT /v2/team/app/blobs/"):
			uploads++
		}
	}
	// Two layers and the config: all mounted, nothing uploaded.
	if mounts != 3 || uploads != 0 {
		t.Errorf("mounts=%d uploads=%d, want 3 and 0; requests:\n%s", mounts, uploads, strings.Join(p.requests()[before:], "\n"))
	}
	if sd := skopeoDigest(t, reg, reg.Ref("team/app:1")); sd != got.String() {
		t.Errorf("skopeo sees %s, Push returned %s", sd, got)
	}
}

func TestPushDenied(t *testing.T) {
	reg := testenv.StartRegistry(t)
	p := newProxy(t, reg)
	p.intercept = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`))
			return true
		}
		return false
	}
	ref := p.host() + "/ro/app:1"
	_, err := Push(testCtx(t), pushImage(t, "denied"), ref, registry.WithKeychain(anonymous), registry.WithCertsDir(""), registry.WithRetry(1, 0))
	wantOneLine(t, err, registry.ErrDenied, "push to "+ref+": denied: registry "+p.host()+" gives no access to push to repository \"ro/app\"")
}

func wantOneLine(t *testing.T, err error, sentinel error, prefix string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", prefix)
	}
	if !errors.Is(err, sentinel) {
		t.Errorf("error %q is not %v", err, sentinel)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error has several lines: %q", err)
	}
	if !strings.Contains(err.Error(), prefix) {
		t.Errorf("error %q\nlacks %q", err, prefix)
	}
}
