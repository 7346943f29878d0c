package imagesource

import (
	"context"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestIndexPlatforms: a registry index is resolved to the platform asked,
// the variant normalised (arm64 finds arm64/v8); a platform it lacks fails
// naming those it has, in the registry, a layout and the store.
func TestIndexPlatforms(t *testing.T) {
	srv := httptest.NewServer(ggcrregistry.New())
	defer srv.Close()
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	armV8 := v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	amdImg, armImg := testImage(t, amd64), testImage(t, armV8)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amdImg, Descriptor: v1.Descriptor{Platform: &amd64}},
		mutate.IndexAddendum{Add: armImg, Descriptor: v1.Descriptor{Platform: &armV8}},
	)
	ref := u.Host + "/team/multi:1"
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	ctx := context.Background()
	got, err := f.src.Registry(ctx, ref, v1.Platform{OS: "linux", Architecture: "arm64"}, f.lease)
	if err != nil {
		t.Fatal(err)
	}
	f.checkImported(t, got, armImg)
	const want = "no image for platform linux/s390x (the image has linux/amd64, linux/arm64)"
	s390x := v1.Platform{OS: "linux", Architecture: "s390x"}
	if _, err := f.src.Registry(ctx, ref, s390x, f.lease); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("registry, missing platform: %v", err)
	}
	if err := f.store.TagIndex(ctx, "multi", idx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.src.Store(ctx, "multi", s390x, f.lease); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("store, missing platform: %v", err)
	}
	got, err = f.src.Store(ctx, "multi", amd64, f.lease)
	if err != nil {
		t.Fatal(err)
	}
	f.checkImported(t, got, amdImg)
}
