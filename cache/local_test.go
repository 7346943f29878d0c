package cache

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// An export into a cache directory drops blobs nothing references (left
// by an export that died before writing index.json), keeps what its
// artifact uses, and is not upset by a writer's leftover temp file.
func TestExportLocalCollectsGarbage(t *testing.T) {
	ctx := context.Background()
	c, _, recs := sourceCache(t)
	dir := filepath.Join(t.TempDir(), "cache")
	if err := ExportLocal(ctx, c, keysOf(recs), dir, ""); err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	orphan := hash("orphan")
	if err := p.WriteBlob(orphan, nopCloser{strings.NewReader("orphan")}); err != nil {
		t.Fatal(err)
	}
	blobDir := filepath.Join(dir, "blobs", "sha256")
	orphanPath := filepath.Join(blobDir, orphan.Hex)
	if err := ExportLocal(ctx, c, keysOf(recs), dir, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(orphanPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("unreferenced blob kept: %v", err)
	}
	// A temp file of a dead writer: the next export still works and drops
	// the blob its previous artifact no longer needs.
	temp := filepath.Join(blobDir, strings.Repeat("9", 64)+"123456")
	if err := os.WriteFile(temp, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ExportLocal(ctx, c, keysOf(recs[:2]), dir, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(blobDir, recs[2].Layer.Digest.Hex)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old blob kept beside a temp file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(blobDir, recs[0].Layer.Digest.Hex)); err != nil {
		t.Errorf("blob of the artifact removed: %v", err)
	}
	dst, _ := open(t)
	if err := ImportLocal(ctx, dst, dir, ""); err != nil {
		t.Fatalf("import after GC: %v", err)
	}
}

// A directory that holds other content besides cache artifacts is never
// collected.
func TestExportLocalSharedDir(t *testing.T) {
	ctx := context.Background()
	c, _, recs := sourceCache(t)
	dir := filepath.Join(t.TempDir(), "shared")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(empty.Image); err != nil {
		t.Fatal(err)
	}
	orphan := hash("someone else's")
	if err := p.WriteBlob(orphan, nopCloser{strings.NewReader("someone else's")}); err != nil {
		t.Fatal(err)
	}
	if err := ExportLocal(ctx, c, keysOf(recs), dir, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "blobs", "sha256", orphan.Hex)); err != nil {
		t.Errorf("blob of a shared directory removed: %v", err)
	}
}

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }
