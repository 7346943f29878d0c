package filecopy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/internal/user"
)

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func checksum(t *testing.T, req Request) v1.Hash {
	t.Helper()
	req.ModTime = stepTime
	h, err := Checksum(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestChecksum(t *testing.T) {
	base := func(t *testing.T) string {
		return mkTree(t, d("app", 0o755), f("app/main.go", 0o644, "package main"), f("app/x", 0o755, "x"), l("app/l", "x"), f("other", 0o644, "o"))
	}
	req := func(dir string) Request {
		return Request{Src: DirFS(dir, nil), Sources: []string{"app"}, DestPath: "/src/"}
	}
	ref := checksum(t, req(base(t)))
	tests := []struct {
		name   string
		change func(t *testing.T, dir string, r *Request)
		same   bool
	}{
		{"nothing", func(*testing.T, string, *Request) {}, true},
		{"mtime (touch)", func(t *testing.T, dir string, _ *Request) {
			now := time.Now()
			os.Chtimes(filepath.Join(dir, "app/main.go"), now, now)
			os.Chtimes(filepath.Join(dir, "app"), now, now)
		}, true},
		{"unselected file", func(t *testing.T, dir string, _ *Request) {
			os.WriteFile(filepath.Join(dir, "other"), []byte("changed"), 0o644)
		}, true},
		{"content", func(t *testing.T, dir string, _ *Request) {
			os.WriteFile(filepath.Join(dir, "app/main.go"), []byte("package mai2"), 0o644)
		}, false},
		{"mode", func(t *testing.T, dir string, _ *Request) { os.Chmod(filepath.Join(dir, "app/x"), 0o700) }, false},
		{"symlink target", func(t *testing.T, dir string, _ *Request) {
			os.Remove(filepath.Join(dir, "app/l"))
			os.Symlink("y", filepath.Join(dir, "app/l"))
		}, false},
		{"new file", func(t *testing.T, dir string, _ *Request) {
			os.WriteFile(filepath.Join(dir, "app/new"), nil, 0o644)
		}, false},
		{"chown", func(t *testing.T, _ string, r *Request) { r.Chown = &user.Identity{UID: 1} }, false},
		{"chmod", func(t *testing.T, _ string, r *Request) { r.Chmod = "600" }, false},
		{"dest", func(t *testing.T, _ string, r *Request) { r.DestPath = "/other/" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := base(t)
			r := req(dir)
			tc.change(t, dir, &r)
			r.Src = DirFS(dir, nil)
			got := checksum(t, r)
			if (got == ref) != tc.same {
				t.Errorf("checksum same=%v, want same=%v", got == ref, tc.same)
			}
		})
	}
}

// countingFS counts Open calls on a real FS.
type countingFS struct {
	FS
	opens atomic.Int64
}

func (c *countingFS) Open(name string) (io.ReadCloser, error) {
	c.opens.Add(1)
	return c.FS.Open(name)
}

func TestStatCache(t *testing.T) {
	var nodes []node
	nodes = append(nodes, d("ctx", 0o755))
	for i := 0; i < 2000; i++ {
		nodes = append(nodes, f(filepath.Join("ctx", "d"+string(rune('a'+i%20)), "f"+itoa(i)), 0o644, "content "+itoa(i)))
	}
	nodes = append(nodes, f("unused", 0o644, "u"))
	dir := mkTree(t, nodes...)
	cacheDir := t.TempDir()
	run := func() (v1.Hash, int64) {
		sc, err := OpenStatCache(cacheDir)
		if err != nil {
			t.Fatal(err)
		}
		cfs := &countingFS{FS: DirFS(dir, nil)}
		h := checksum(t, Request{Src: cfs, Sources: []string{"ctx"}, DestPath: "/", StatCache: sc})
		if err := sc.Save(); err != nil {
			t.Fatal(err)
		}
		return h, cfs.opens.Load()
	}
	h1, opens1 := run()
	if opens1 != 2000 {
		t.Errorf("first run opened %d files, want 2000", opens1)
	}
	h2, opens2 := run()
	if opens2 != 0 || h1 != h2 {
		t.Errorf("no-op rebuild: %d opens (want 0), same digest %v", opens2, h1 == h2)
	}
	if err := os.WriteFile(filepath.Join(dir, "ctx/da/f0"), []byte("changed!!"), 0o644); err != nil {
		t.Fatal(err)
	}
	h3, opens3 := run()
	if opens3 != 1 || h3 == h1 {
		t.Errorf("after one change: %d opens (want 1), digest changed %v", opens3, h3 != h1)
	}
	// the digest with a cache equals the digest without one
	plain := checksum(t, Request{Src: DirFS(dir, nil), Sources: []string{"ctx"}, DestPath: "/"})
	if plain != h3 {
		t.Errorf("stat-cached digest %v != uncached %v", h3, plain)
	}
	if left, _ := filepath.Glob(filepath.Join(cacheDir, "*.tmp-*")); len(left) != 0 {
		t.Errorf("temp files left: %v", left)
	}
}

func itoa(i int) string {
	b := []byte{}
	if i == 0 {
		return "0"
	}
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}
