package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/builderdev/builder/internal/testenv"
	"github.com/builderdev/builder/store"
)

// sourceCache is a cache with two layer records, one metadata-only record
// and a record that is not exported.
func sourceCache(t *testing.T) (*Cache, *store.Store, []*Record) {
	t.Helper()
	ctx := context.Background()
	c, st := open(t)
	created := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	l1 := randLayer(t, st, "bin/app", 5000)
	l2 := randLayer(t, st, "etc/conf", 300)
	recs := []*Record{
		{Key: hash("k1"), Parent: "sha256:" + hash("base").Hex, Description: "COPY app /bin/app", Layer: l1,
			History: v1.History{CreatedBy: "COPY app /bin/app # buildkit", Comment: "buildkit.dockerfile.v0"},
			Inputs:  map[string]string{"files": "abc"}, Created: created},
		{Key: hash("k2"), Parent: hash("k1").String(), Description: "RUN true", Created: created,
			History: v1.History{CreatedBy: "RUN /bin/sh -c true # buildkit", EmptyLayer: true}},
		{Key: hash("k3"), Parent: hash("k2").String(), Description: "RUN conf", Layer: l2, Created: created,
			History: v1.History{CreatedBy: "RUN /bin/sh -c conf # buildkit"}},
	}
	for _, r := range recs {
		if err := c.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Put(ctx, &Record{Key: hash("private"), Layer: randLayer(t, st, "x", 10)}); err != nil {
		t.Fatal(err)
	}
	return c, st, recs
}

// checkImported asserts that every record of want hits in c with its blob
// present and its layer's content intact.
func checkImported(t *testing.T, c *Cache, st *store.Store, src *store.Store, want []*Record) {
	t.Helper()
	ctx := context.Background()
	for _, w := range want {
		got, err := c.Get(ctx, w.Key)
		if err != nil {
			t.Errorf("Get %s after import: %v", w.Description, err)
			continue
		}
		w2 := *w
		w2.Version = recordVersion
		if d := cmp.Diff(&w2, got); d != "" {
			t.Errorf("record %s differs (-want +got):\n%s", w.Description, d)
		}
		if w.Layer == nil {
			continue
		}
		l, err := st.Layer(ctx, got.Layer.Digest, got.Layer.DiffID, got.Layer.Size, types.MediaType(got.Layer.MediaType))
		if err != nil {
			t.Errorf("layer of %s: %v", w.Description, err)
			continue
		}
		a, _ := os.ReadFile(st.BlobPath(w.Layer.Digest))
		b, _ := os.ReadFile(src.BlobPath(w.Layer.Digest))
		if !bytes.Equal(a, b) || l == nil {
			t.Errorf("blob of %s differs from the source", w.Description)
		}
	}
	if _, err := c.Get(ctx, hash("private")); !errors.Is(err, ErrNotFound) {
		t.Errorf("a record not exported was imported: %v", err)
	}
	// Previous (for --explain) works on imported records too.
	if prev, err := c.Previous(ctx, hash("k1"), "RUN true"); err != nil || prev.Key != hash("k2") {
		t.Errorf("Previous after import: %+v, %v", prev, err)
	}
}

func keysOf(recs []*Record) []v1.Hash {
	var out []v1.Hash
	for _, r := range recs {
		out = append(out, r.Key)
	}
	return out
}

func TestRegistryRoundTrip(t *testing.T) {
	ctx := context.Background()
	reg := testenv.StartRegistry(t)
	srcC, srcSt, recs := sourceCache(t)
	ref := reg.Ref("team/app:buildcache")
	digest, err := ExportRegistry(ctx, srcC, append(keysOf(recs), hash("unknown")), ref)
	if err != nil {
		t.Fatal(err)
	}
	// What the registry holds: an OCI manifest of our artifact type whose
	// layers are exactly the two record blobs.
	r, _ := name.ParseReference(ref)
	desc, err := remote.Get(r)
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != digest {
		t.Errorf("registry digest %s, export returned %s", desc.Digest, digest)
	}
	m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIManifestSchema1 || m.ArtifactType != ArtifactType || m.Config.MediaType != ConfigMediaType {
		t.Errorf("manifest: %s", desc.Manifest)
	}
	gotLayers := map[v1.Hash]int64{}
	for _, l := range m.Layers {
		gotLayers[l.Digest] = l.Size
	}
	wantLayers := map[v1.Hash]int64{recs[0].Layer.Digest: recs[0].Layer.Size, recs[2].Layer.Digest: recs[2].Layer.Size}
	if d := cmp.Diff(wantLayers, gotLayers); d != "" {
		t.Errorf("artifact layers (-want +got):\n%s", d)
	}
	// skopeo, as another client, sees the same manifest.
	raw := testenv.Skopeo(t, "inspect", "--raw", "--tls-verify=false", "docker://"+ref)
	if !bytes.Equal(bytes.TrimSpace(raw), bytes.TrimSpace(desc.Manifest)) {
		t.Errorf("skopeo sees another manifest:\n%s", raw)
	}

	// An empty root imports it and hits on every record.
	dstC, dstSt := open(t)
	if err := ImportRegistry(ctx, dstC, ref); err != nil {
		t.Fatal(err)
	}
	checkImported(t, dstC, dstSt, srcSt, recs)
	// Importing twice is harmless.
	if err := ImportRegistry(ctx, dstC, ref); err != nil {
		t.Fatal(err)
	}
	left, _ := os.ReadDir(dstSt.TmpDir())
	if len(left) != 0 {
		t.Errorf("temp entries left: %d", len(left))
	}
	if err := ImportRegistry(ctx, dstC, reg.Ref("team/none:cache")); !errors.Is(err, ErrNoCache) {
		t.Errorf("import of a missing cache: %v", err)
	}
}

func TestLocalRoundTrip(t *testing.T) {
	ctx := context.Background()
	srcC, srcSt, recs := sourceCache(t)
	dir := filepath.Join(t.TempDir(), "cache")
	if err := ExportLocal(ctx, srcC, keysOf(recs), dir, ""); err != nil {
		t.Fatal(err)
	}
	dstC, dstSt := open(t)
	if err := ImportLocal(ctx, dstC, dir, ""); err != nil {
		t.Fatal(err)
	}
	checkImported(t, dstC, dstSt, srcSt, recs)
	// Exporting less replaces the artifact and drops the blob no longer used.
	if err := ExportLocal(ctx, srcC, keysOf(recs[:2]), dir, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", recs[2].Layer.Digest.Hex)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old blob kept in the cache dir: %v", err)
	}
	var idx v1.IndexManifest
	data, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	if err := json.Unmarshal(data, &idx); err != nil || len(idx.Manifests) != 1 {
		t.Errorf("index.json: %s", data)
	}
	other, _ := open(t)
	if err := ImportLocal(ctx, other, filepath.Join(t.TempDir(), "none"), ""); !errors.Is(err, ErrNoCache) {
		t.Errorf("import from a missing dir: %v", err)
	}
	if err := ImportLocal(ctx, other, dir, "v2"); !errors.Is(err, ErrNoCache) {
		t.Errorf("import of a missing tag: %v", err)
	}
}

// A record that lies about its layer's diffID is refused, not imported.
func TestImportVerifiesDiffID(t *testing.T) {
	ctx := context.Background()
	srcC, st := open(t)
	l := randLayer(t, st, "f", 100)
	bad := *l
	bad.DiffID = hash("not the content")
	if err := srcC.Put(ctx, &Record{Key: hash("k"), Layer: &bad}); err != nil {
		t.Fatal(err)
	}
	img, err := Export(ctx, srcC, []v1.Hash{hash("k")})
	if err != nil {
		t.Fatal(err)
	}
	dstC, _ := open(t)
	if err := Import(ctx, dstC, img); err == nil {
		t.Fatal("import of a lying record succeeded")
	}
	if _, err := dstC.Get(ctx, hash("k")); !errors.Is(err, ErrNotFound) {
		t.Errorf("lying record written: %v", err)
	}
	// Also when the blob is already here but no local record vouches for it.
	dst2, dst2St := open(t)
	f, err := os.Open(st.BlobPath(l.Digest))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, _, err := dst2St.WriteBlob(ctx, l.MediaType, f); err != nil {
		t.Fatal(err)
	}
	if err := Import(ctx, dst2, img); err == nil {
		t.Error("import of a lying record over a present blob succeeded")
	}
	// An ordinary image is not a cache.
	if err := Import(ctx, dstC, empty.Image); !errors.Is(err, ErrNotCache) {
		t.Errorf("import of an image: %v", err)
	}
}
