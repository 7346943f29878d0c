package store_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/builderdev/builder/store"
)

// multiIndex is an OCI index of a host-platform image and an s390x one.
func multiIndex(t *testing.T) (v1.ImageIndex, map[string]v1.Hash) {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	digests := map[string]v1.Hash{}
	for _, arch := range []string{runtime.GOARCH, "s390x"} {
		img, err := random.Image(200, 2)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", arch
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		digests[arch] = d
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	return idx, digests
}

// TestTagIndex: a tag names a multi-platform index; images lists its
// platforms; each platform's image is found by platform, a missing one
// names those the index has; the blobs are kept by a prune.
func TestTagIndex(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	idx, digests := multiIndex(t)
	if err := st.TagIndex(ctx, "multi", idx); err != nil {
		t.Fatal(err)
	}
	imgs, err := st.Images(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := idx.Digest()
	if len(imgs) != 1 || imgs[0].Name != "multi:latest" || imgs[0].Digest != want ||
		strings.Join(imgs[0].Platforms, ",") != "linux/"+runtime.GOARCH+",linux/s390x" || imgs[0].Size < 2*400 {
		t.Fatalf("images = %+v", imgs)
	}
	img, err := st.ImagePlatform(ctx, "multi", v1.Platform{OS: "linux", Architecture: "s390x"})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := img.Digest(); d != digests["s390x"] {
		t.Errorf("s390x image %s, want %s", d, digests["s390x"])
	}
	img, err = st.Image(ctx, "multi:latest")
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := img.Digest(); d != digests[runtime.GOARCH] {
		t.Errorf("Image of an index: %s, want the host's %s", d, digests[runtime.GOARCH])
	}
	_, err = st.ImagePlatform(ctx, "multi", v1.Platform{OS: "linux", Architecture: "riscv64"})
	if err == nil || !strings.Contains(err.Error(), "no image for platform linux/riscv64 (the image has linux/"+runtime.GOARCH+", linux/s390x)") &&
		!strings.Contains(err.Error(), "(the image has linux/s390x, linux/"+runtime.GOARCH+")") {
		t.Errorf("missing platform: %v", err)
	}
	tagged, err := st.TaggedBlobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for arch, d := range digests {
		if !tagged.Blobs[d] {
			t.Errorf("%s manifest not kept by a prune", arch)
		}
	}
	if !tagged.Blobs[want] {
		t.Error("index blob not kept by a prune")
	}
	im, err := st.IndexManifest(ctx, "multi")
	if err != nil || len(im.Manifests) != 2 || im.Manifests[1].Digest != digests["s390x"] {
		t.Errorf("IndexManifest = %+v, %v", im, err)
	}
	if img, err := st.Image(ctx, digests["s390x"].String()); err != nil {
		t.Errorf("an index's image by digest: %v", err)
	} else if cf, _ := img.ConfigFile(); cf.Architecture != "s390x" {
		t.Errorf("image by digest is %s", cf.Architecture)
	}
	// Tagging an image over it replaces the index.
	one, _ := random.Image(10, 1)
	if err := st.Tag(ctx, "multi", one); err != nil {
		t.Fatal(err)
	}
	if imgs, _ := st.Images(ctx); len(imgs) != 1 || imgs[0].Platforms != nil {
		t.Errorf("after retag: %+v", imgs)
	}
	if _, err := st.IndexManifest(ctx, "multi"); !errors.Is(err, store.ErrNotIndex) {
		t.Errorf("IndexManifest of an image: %v", err)
	}
}
