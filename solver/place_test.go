package solver

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/builderdev/builder/internal/mount"
)

// TestPlaceMountsUndo checks placement without a step: a cache is renamed
// in (same inode) and back, a bind source is copied (changes to the copy
// do not reach it), an existing target is set aside and restored with its
// parent's times, and created mount points are removed.
func TestPlaceMountsUndo(t *testing.T) {
	dir := t.TempDir()
	root, own, cache, src := filepath.Join(dir, "root"), filepath.Join(dir, "own"), filepath.Join(dir, "cache"), filepath.Join(dir, "src")
	for _, d := range []string{root + "/etc/keep", own, cache, src} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for f, data := range map[string]string{root + "/etc/keep/orig": "orig", cache + "/c": "cached", src + "/s": "source"} {
		if err := os.WriteFile(f, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, d := range []string{root, root + "/etc"} {
		if err := os.Chtimes(d, old, old); err != nil {
			t.Fatal(err)
		}
	}
	var cacheIno uint64
	if st, err := os.Stat(cache); err == nil {
		cacheIno = inode(st)
	}
	mounts := []mount.Mount{
		{Type: "bind", Source: cache, Target: "/var/cache/x"},
		{Type: "bind", Source: src, Target: "/etc/keep", Options: []string{"rbind", "ro"}},
		{Type: "tmpfs", Source: "tmpfs", Target: "/tmp/t"},
	}
	p, err := placeMounts(context.Background(), root, own, mounts, map[string]bool{cache: true})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(root + "/var/cache/x"); err != nil || inode(st) != cacheIno {
		t.Errorf("the cache is not the store's directory in the root: %v", err)
	}
	if _, err := os.Stat(cache); !os.IsNotExist(err) {
		t.Errorf("the cache is still in the store while placed: %v", err)
	}
	if err := os.WriteFile(root+"/etc/keep/s", []byte("changed"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(root+"/var/cache/x/new", []byte("n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(root + "/etc"); err != nil || !st.ModTime().Equal(old) {
		t.Errorf("the step sees /etc's mtime changed: %v", st.ModTime())
	}
	if err := p.undo(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(src + "/s"); string(b) != "source" {
		t.Errorf("the bind source changed: %q", b)
	}
	if b, _ := os.ReadFile(cache + "/new"); string(b) != "n" {
		t.Errorf("the cache did not get the step's file back: %q", b)
	}
	if b, _ := os.ReadFile(root + "/etc/keep/orig"); string(b) != "orig" {
		t.Errorf("the image's /etc/keep was not restored: %q", b)
	}
	for _, gone := range []string{"var", "tmp", "etc/keep/s"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); !os.IsNotExist(err) {
			t.Errorf("/%s left in the root: %v", gone, err)
		}
	}
	for _, d := range []string{root, root + "/etc"} {
		if st, err := os.Stat(d); err != nil || !st.ModTime().Equal(old) {
			t.Errorf("%s mtime not restored: %v", d, st.ModTime())
		}
	}
	if ents, _ := os.ReadDir(own); len(ents) != 0 {
		t.Errorf("left in the run dir: %v", ents)
	}
}

func inode(fi os.FileInfo) uint64 { return fi.Sys().(*syscall.Stat_t).Ino }

// TestPlaceMountsStepRemovedTarget checks undo after the step removed the
// directory holding a cache target: no error, and the store gets an empty
// cache back (what is left of a mounted cache after rm -rf).
func TestPlaceMountsStepRemovedTarget(t *testing.T) {
	dir := t.TempDir()
	root, own, cache := filepath.Join(dir, "root"), filepath.Join(dir, "own"), filepath.Join(dir, "cache")
	for _, d := range []string{root, own, cache} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(cache+"/c", []byte("cached"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := placeMounts(context.Background(), root, own, []mount.Mount{{Type: "bind", Source: cache, Target: "/a/b"}}, map[string]bool{cache: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(root, "a")); err != nil {
		t.Fatal(err)
	}
	if err := p.undo(); err != nil {
		t.Fatalf("undo: %v", err)
	}
	if ents, err := os.ReadDir(cache); err != nil || len(ents) != 0 {
		t.Errorf("cache after the step removed it: %v, %v; want an empty directory", ents, err)
	}
	if _, err := os.Lstat(filepath.Join(root, "a")); !os.IsNotExist(err) {
		t.Errorf("/a is back in the root: %v", err)
	}
}
