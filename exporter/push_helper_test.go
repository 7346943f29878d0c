package exporter

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/builderdev/builder/internal/testenv"
)

// pushImage makes a two-layer OCI image whose content depends on seed.
func pushImage(t *testing.T, seed string) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for i, body := range []string{"base " + seed, "app " + seed} {
		data := testenv.BuildTar(t, []testenv.TarEntry{
			{Header: tar.Header{Typeflag: tar.TypeDir, Name: "etc/", Mode: 0o755, ModTime: testenv.Epoch()}},
			{Header: tar.Header{Typeflag: tar.TypeReg, Name: "etc/layer" + string(rune('0'+i)), Mode: 0o644,
				Uid: 1000, Gid: 1000, ModTime: testenv.Epoch()}, Body: []byte(body)},
		})
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		}, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			t.Fatal(err)
		}
		img, err = mutate.Append(img, mutate.Addendum{Layer: l,
			History: v1.History{CreatedBy: "test " + seed, Created: v1.Time{Time: testenv.Epoch()}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: testenv.Epoch()}
	cf.Config.Cmd = []string{"/bin/sh"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// anonymous is a keychain with no credentials at all, so that tests do
// not depend on the machine's docker config.
var anonymous = authn.NewMultiKeychain()

// certsDirFor lays out DIR/HOST/ca.crt for each host, like
// /etc/docker/certs.d.
func certsDirFor(t *testing.T, caFile string, hosts ...string) string {
	t.Helper()
	dir := t.TempDir()
	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		if err := os.MkdirAll(filepath.Join(dir, h), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, h, "ca.crt"), ca, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// skopeoDigest returns the manifest digest skopeo sees for ref.
func skopeoDigest(t *testing.T, reg *testenv.Registry, ref string) string {
	t.Helper()
	out := testenv.SkopeoInspect(t, "docker://"+ref, reg.SkopeoFlags("")...)
	var v struct{ Digest string }
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("decode skopeo inspect: %v\n%s", err, out)
	}
	return v.Digest
}

// proxy is a plain-http reverse proxy on 127.0.0.1 in front of a real
// registry that records requests and can break chosen ones, the way a
// dying registry or a flaky network does.
type proxy struct {
	srv *httptest.Server
	mu  sync.Mutex
	log []string
	// intercept, when it returns true, has handled (or broken) the request.
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

func newProxy(t *testing.T, reg *testenv.Registry) *proxy {
	t.Helper()
	target, err := url.Parse(reg.URL())
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ErrorLog = log.New(io.Discard, "", 0)
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.log = append(p.log, r.Method+" "+r.URL.RequestURI())
		icpt := p.intercept
		p.mu.Unlock()
		if icpt != nil && icpt(w, r) {
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *proxy) host() string { return strings.TrimPrefix(p.srv.URL, "http://") }

func (p *proxy) requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.log...)
}

// hangUp closes the client's connection without an answer.
func hangUp(t *testing.T, w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		t.Error("response writer cannot hijack")
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		t.Error(err)
		return
	}
	conn.Close()
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func writeFile(t *testing.T, file, content string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
