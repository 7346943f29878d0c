package imagesource

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/builderdev/builder/store"
)

var amd64 = v1.Platform{OS: "linux", Architecture: "amd64"}

// testImage is a random two-layer image whose config says p.
func testImage(t *testing.T, p v1.Platform) v1.Image {
	t.Helper()
	img, err := random.Image(64, 2)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = p.OS, p.Architecture
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

type fixture struct {
	src   *Source
	store *store.Store
	lease *store.Lease
	mu    sync.Mutex
	msgs  []string
}

func newFixture(t *testing.T, opts ...Option) *fixture {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	lease, err := st.Lease(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lease.Release() })
	f := &fixture{store: st, lease: lease}
	f.src = New(st, append([]Option{WithNotify(func(m string) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.msgs = append(f.msgs, m)
	})}, opts...)...)
	return f
}

// checkImported: the image's identity and config, its layers in the store
// and leased.
func (f *fixture) checkImported(t *testing.T, got *Image, want v1.Image) {
	t.Helper()
	d, err := want.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != d {
		t.Errorf("digest %s, want %s", got.Digest, d)
	}
	wantLayers, err := want.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Layers) != len(wantLayers) {
		t.Fatalf("%d layers, want %d", len(got.Layers), len(wantLayers))
	}
	inUse, err := f.store.InUse(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range wantLayers {
		ld, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		gd, err := got.Layers[i].Digest()
		if err != nil {
			t.Fatal(err)
		}
		if gd != ld || !f.store.HasBlob(context.Background(), ld) {
			t.Errorf("layer %d: %s (in store: %t), want %s in the store", i, gd, f.store.HasBlob(context.Background(), ld), ld)
		}
		if !inUse[ld] {
			t.Errorf("layer %d (%s) is not leased", i, ld)
		}
	}
}

func TestLayoutByTagDigestAndPlatform(t *testing.T) {
	f := newFixture(t)
	dir := t.TempDir()
	tagged := testImage(t, amd64)
	arm := testImage(t, v1.Platform{OS: "linux", Architecture: "arm64"})
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: testImage(t, amd64), Descriptor: v1.Descriptor{Platform: &amd64}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}},
	)
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(tagged, layout.WithAnnotations(map[string]string{annotationRefName: "v1"})); err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{annotationRefName: "multi"})); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	got, err := f.src.Layout(ctx, "base", dir+":v1", amd64, f.lease)
	if err != nil {
		t.Fatal(err)
	}
	f.checkImported(t, got, tagged)
	if got.Ref != "base" || got.Config.Architecture != "amd64" {
		t.Errorf("ref %q, arch %q; want base, amd64", got.Ref, got.Config.Architecture)
	}

	d, _ := tagged.Digest()
	byDigest, err := f.src.Layout(ctx, "base", dir+"@"+d.String(), amd64, f.lease)
	if err != nil || byDigest.Digest != d {
		t.Errorf("by digest: %v, %v; want %s", byDigest, err, d)
	}

	armP := v1.Platform{OS: "linux", Architecture: "arm64"}
	picked, err := f.src.Layout(ctx, "base", dir+":multi", armP, f.lease)
	if err != nil {
		t.Fatal(err)
	}
	f.checkImported(t, picked, arm)

	if _, err := f.src.Layout(ctx, "base", dir+":nope", amd64, f.lease); err == nil || !strings.Contains(err.Error(), `has no image "nope"`) {
		t.Errorf("missing tag: %v, want 'has no image \"nope\"'", err)
	}
	if _, err := f.src.Layout(ctx, "base", filepath.Join(dir, "missing"), amd64, f.lease); err == nil || !strings.Contains(err.Error(), "open oci layout") {
		t.Errorf("missing layout: %v, want 'open oci layout'", err)
	}
}

// servedImage serves handler (a registry) and pushes a test image to it
// as team/base:1; it returns the image, its reference and the registry's
// host.
func servedImage(t *testing.T, handler http.Handler) (img v1.Image, ref, host string) {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	ref = u.Host + "/team/base:1"
	img = testImage(t, amd64)
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	return img, ref, u.Host
}

func TestRegistryPullAndNotify(t *testing.T) {
	img, ref, host := servedImage(t, ggcrregistry.New())
	f := newFixture(t)
	got, err := f.src.Registry(context.Background(), ref, amd64, f.lease)
	if err != nil {
		t.Fatal(err)
	}
	f.checkImported(t, got, img)
	if len(f.msgs) == 0 || f.msgs[0] != "resolve image "+ref {
		t.Errorf("notified %q, want first 'resolve image %s'", f.msgs, ref)
	}

	// Another platform than asked: a warning, not an error.
	f.msgs = nil
	arm := v1.Platform{OS: "linux", Architecture: "arm64"}
	if _, err := f.src.Registry(context.Background(), ref, arm, f.lease); err != nil {
		t.Fatal(err)
	}
	if len(f.msgs) != 2 || !strings.Contains(f.msgs[1], "warning: image "+ref+" is linux/amd64, not linux/arm64") {
		t.Errorf("notified %q, want a platform warning", f.msgs)
	}

	if _, err := f.src.Registry(context.Background(), host+"/team/missing:1", amd64, f.lease); err == nil || !strings.Contains(err.Error(), "team/missing") {
		t.Errorf("missing repository: %v, want an error naming it", err)
	}
	if _, err := f.src.Registry(context.Background(), "Bad Ref", amd64, f.lease); err == nil || !strings.Contains(err.Error(), "parse image reference") {
		t.Errorf("bad reference: %v, want a parse error", err)
	}
}

func TestStoreLookup(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.src.Store(ctx, "app:1", amd64, f.lease); !errors.Is(err, ErrNotInStore) {
		t.Errorf("untagged name: %v, want ErrNotInStore", err)
	}
	img := testImage(t, amd64)
	if err := f.store.Tag(ctx, "app:1", img); err != nil {
		t.Fatal(err)
	}
	got, err := f.src.Store(ctx, "app:1", amd64, f.lease)
	if err != nil {
		t.Fatal(err)
	}
	f.checkImported(t, got, img)
}

func TestScratchWorkingDir(t *testing.T) {
	img := Scratch(v1.Platform{OS: "linux", Architecture: "arm64"})
	if got := img.Config.Config.WorkingDir; got != "/" {
		t.Errorf("scratch WorkingDir = %q, want %q", got, "/")
	}
	if img.Config.OS != "linux" || img.Config.Architecture != "arm64" || img.Config.RootFS.Type != "layers" {
		t.Errorf("scratch config %+v", img.Config)
	}
	if img.Digest != (v1.Hash{}) || len(img.Layers) != 0 {
		t.Errorf("scratch has digest %s and %d layers, want none", img.Digest, len(img.Layers))
	}
}

// TestRegistryKeepsConfig: the first pull of an image keeps its config
// blob in the store; resolving it again reads the manifest from the
// registry and the config from the store. A kept config whose bytes are
// not its digest's is not used: the registry's is fetched.
func TestRegistryKeepsConfig(t *testing.T) {
	var mu sync.Mutex
	var gets []string
	reg := ggcrregistry.New()
	img, ref, _ := servedImage(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		gets = append(gets, r.Method+" "+r.URL.Path)
		mu.Unlock()
		reg.ServeHTTP(w, r)
	}))
	cfgName, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	configGets := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, g := range gets {
			if g == "GET /v2/team/base/blobs/"+cfgName.String() {
				n++
			}
		}
		gets = nil
		return n
	}
	f := newFixture(t)
	ctx := context.Background()
	pull := func() {
		t.Helper()
		got, err := f.src.Registry(ctx, ref, amd64, f.lease)
		if err != nil {
			t.Fatal(err)
		}
		f.checkImported(t, got, img)
	}
	configGets()
	pull()
	if n := configGets(); n != 1 {
		t.Errorf("first pull fetched the config %d times, want 1", n)
	}
	if !f.store.HasBlob(ctx, cfgName) {
		t.Fatalf("config %s not kept in the store", cfgName)
	}
	pull()
	if n := configGets(); n != 0 {
		t.Errorf("second pull fetched the config %d times, want 0 (the store has it)", n)
	}
	if err := os.WriteFile(f.store.BlobPath(cfgName), []byte(`{"architecture":"arm64"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	pull()
	if n := configGets(); n != 1 {
		t.Errorf("pull with a damaged kept config fetched it %d times, want 1", n)
	}
}
