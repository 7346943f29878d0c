package store_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/builderdev/builder/store"
)

// TestRetagSameImageWritesNothing: tagging the image a tag already names
// (a no-op rebuild) rewrites no index.json and writes no blob; tagging a
// different image still moves the tag.
func TestRetagSameImageWritesNothing(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(100, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Tag(ctx, "app", img); err != nil {
		t.Fatal(err)
	}
	indexFile := filepath.Join(st.OCIDir(), "index.json")
	before := inode(t, indexFile)
	// A temp file created and removed in tmp/ would change its mtime.
	tmpBefore := mtime(t, st.TmpDir())
	if err := st.Tag(ctx, "app", img); err != nil {
		t.Fatal(err)
	}
	if m := mtime(t, st.TmpDir()); m != tmpBefore {
		t.Errorf("re-tag of the same image wrote a temp file (tmp/ mtime %d → %d)", tmpBefore, m)
	}
	if after := inode(t, indexFile); after != before {
		t.Errorf("index.json was replaced (inode %d → %d) though the tag did not change", before, after)
	}
	other, err := random.Image(100, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Tag(ctx, "app", other); err != nil {
		t.Fatal(err)
	}
	got, err := st.Image(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	gd, _ := got.Digest()
	od, _ := other.Digest()
	if gd != od {
		t.Errorf("app points at %s, want the new image %s", gd, od)
	}
	if inode(t, indexFile) == before {
		t.Error("index.json not rewritten for a changed tag")
	}
}

func inode(t *testing.T, file string) uint64 {
	t.Helper()
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

func mtime(t *testing.T, file string) int64 {
	t.Helper()
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime().UnixNano()
}
