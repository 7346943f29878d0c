package build

import (
	"archive/tar"
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/cache"
	"github.com/builderdev/builder/store"
)

// seed puts one record with a 1000-byte layer into a new root and returns
// the cache, the record's key and the layer's blob digest.
func seed(t *testing.T, root string) (*cache.Cache, v1.Hash, v1.Hash) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(st.CacheDir(), st)
	if err != nil {
		t.Fatal(err)
	}
	lw, err := st.NewLayer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(lw)
	tw.WriteHeader(&tar.Header{Name: "f", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1000})
	tw.Write(bytes.Repeat([]byte{'x'}, 1000))
	tw.Close()
	l, err := lw.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := l.Digest()
	id, _ := l.DiffID()
	size, _ := l.Size()
	key, _ := v1.NewHash("sha256:" + strings.Repeat("ab", 32))
	if err := c.Put(ctx, &cache.Record{Key: key, Description: "RUN make", Layer: &cache.LayerRef{Digest: d, DiffID: id, Size: size, MediaType: "application/vnd.oci.image.layer.v1.tar+gzip"}}); err != nil {
		t.Fatal(err)
	}
	return c, key, d
}

// A local cache exported by one root is imported by another; a missing
// source only warns. (Moved from cmd/builder's TestCacheOptionsLocal.)
func TestCacheImportExportLocal(t *testing.T) {
	ctx := context.Background()
	src, key, blob := seed(t, t.TempDir())
	dir := filepath.Join(t.TempDir(), "cache")
	var warnings []string
	warn := func(s string) { warnings = append(warnings, s) }
	to := []CacheSpec{{Type: "local", Dir: dir, Mode: "max"}}
	if err := exportCaches(ctx, src, to, nil, []v1.Hash{key}, warn); err != nil {
		t.Fatal(err)
	}
	dstRoot := t.TempDir()
	st, err := store.Open(dstRoot)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := cache.Open(st.CacheDir(), st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Get(ctx, key); err == nil {
		t.Fatal("the new root already has the record")
	}
	from := []CacheSpec{{Type: "local", Dir: dir}, {Type: "local", Dir: filepath.Join(dir, "missing")}}
	if err := importCaches(ctx, dst, from, warn); err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "no cache there yet") {
		t.Errorf("warnings: %q", warnings)
	}
	if _, err := dst.Get(ctx, key); err != nil {
		t.Errorf("imported record: %v", err)
	}
	if !st.HasBlob(ctx, blob) {
		t.Error("imported blob missing")
	}
	// mode=min with no final keys exports an empty cache; a failing
	// destination fails unless ignore-error=true.
	bad := []CacheSpec{{Type: "local", Dir: "/proc/nope", Mode: "min"}}
	if err := exportCaches(ctx, src, bad, nil, nil, warn); err == nil {
		t.Error("export to an unwritable dir succeeded")
	}
	bad[0].IgnoreError = true
	if err := exportCaches(ctx, src, bad, nil, nil, warn); err != nil || len(warnings) != 2 {
		t.Errorf("ignore-error: %v, warnings %q", err, warnings)
	}
}
