package filecopy

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func sumOf(t *testing.T, c *StatCache, dir, name string) string {
	t.Helper()
	fsys := DirFS(dir, nil)
	fi, err := fsys.Lstat(name)
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.Sum(context.Background(), nil, fsys, name, fi)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStatCacheSameSecond: a file rewritten with the same size and its
// mtime put back to the same instant (same second, same nanosecond) is
// read again: the key has the ctime in nanoseconds, which the rewrite
// moved. A key of seconds, or of size and mtime only, would serve the old
// digest.
func TestStatCacheSameSecond(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	when := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	write := func(data string) {
		if err := os.WriteFile(file, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(file, when, when); err != nil {
			t.Fatal(err)
		}
	}
	c, err := OpenStatCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c.racy = 0 // remember every read: this test is about the key
	write("aaaa")
	first := sumOf(t, c, dir, "f")
	if again := sumOf(t, c, dir, "f"); again != first || c.Reads() != 1 {
		t.Fatalf("unchanged file: %d reads (want 1), same sum %v", c.Reads(), again == first)
	}
	write("bbbb")
	second := sumOf(t, c, dir, "f")
	if second == first {
		t.Fatalf("file rewritten within the same second: stale digest %s served", first)
	}
	if c.Reads() != 2 {
		t.Errorf("reads = %d, want 2", c.Reads())
	}
}

// TestStatCacheRacy: a file modified less than the racy window before its
// read ended is hashed but not remembered; an older one is remembered.
func TestStatCacheRacy(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		window    time.Duration
		wantReads int64
	}{
		{"modified within the window", time.Hour, 3},
		{"older than the window", 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := OpenStatCache(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			c.racy = tc.window
			for i := 0; i < 3; i++ {
				sumOf(t, c, dir, "f")
			}
			if c.Reads() != tc.wantReads {
				t.Errorf("reads = %d, want %d", c.Reads(), tc.wantReads)
			}
		})
	}
	if w := racyWindow(); w <= 0 || w > time.Second {
		t.Errorf("racyWindow() = %v, want two coarse clock ticks", w)
	}
}

// immutableFS is a DirFS that promises its files never change, as a view
// over extracted layers does.
type immutableFS struct{ FS }

func (immutableFS) Immutable() bool { return true }

// TestStatCacheImmutableNotRacy: a file of an immutable FS is remembered
// even when it was modified within the racy window.
func TestStatCacheImmutableNotRacy(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := OpenStatCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c.racy = time.Hour
	fsys := immutableFS{DirFS(dir, nil)}
	fi, err := fsys.Lstat("f")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := c.Sum(context.Background(), nil, fsys, "f", fi); err != nil {
			t.Fatal(err)
		}
	}
	if c.Reads() != 1 {
		t.Errorf("reads = %d, want 1", c.Reads())
	}
}

// TestStatCacheFile: Save and OpenStatCache keep every sum; a file of
// another format or a truncated one opens as an empty cache.
func TestStatCacheFile(t *testing.T) {
	dir := t.TempDir()
	c, err := OpenStatCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := map[statKey]string{
		{Dev: 1, Ino: 2, Size: 3, Mtime: -4, Ctime: 5, Mode: 0o100644}:      "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		{Dev: 1 << 60, Ino: 7, Size: 0, Mtime: 8, Ctime: 9, Mode: 0o104755}: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	}
	for k, v := range want {
		c.sums[k] = v
	}
	c.dirty = true
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	again, err := OpenStatCache(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.sums) != len(want) {
		t.Fatalf("reopened cache has %d sums, want %d", len(again.sums), len(want))
	}
	for k, v := range want {
		if again.sums[k] != v {
			t.Errorf("sum of %+v = %q, want %q", k, again.sums[k], v)
		}
	}
	file := filepath.Join(dir, statCacheFile)
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string][]byte{
		"truncated": data[:len(data)-1], "json": []byte(`[{"dev":1}]`), "empty": nil,
	} {
		if err := os.WriteFile(file, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := OpenStatCache(dir)
		if err != nil || len(c.sums) != 0 {
			t.Errorf("%s file: %d sums, %v; want an empty cache", name, len(c.sums), err)
		}
	}
}
