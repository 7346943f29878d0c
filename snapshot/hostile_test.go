package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestHostile checks that no entry of a hostile tar lands outside the root,
// for Ensure and for Apply: each case fails or stays contained.
func TestHostile(t *testing.T) {
	requireRoot(t)
	long := strings.Repeat("d/", 2100) + "f"
	cases := []struct {
		name string
		ents []ent
		// inside lists paths that must exist inside the root afterwards
		// (contained); empty means the extraction must fail.
		inside []string
	}{
		{"dotdot", []ent{file("../escape", "x")}, nil},
		{"dotdot-nested", []ent{file("a/../../escape", "x")}, nil},
		{"absolute", []ent{file("/escape", "x")}, []string{"escape"}},
		// Writing through a symlink whose target is missing creates the
		// target inside the root, as containerd's archive.Apply does.
		{"symlink-then-write-through", []ent{symlink("s", "/OUT"), file("s/escape", "x")}, []string{"s", "OUT/escape"}},
		{"relative-symlink-then-write", []ent{symlink("s", "../../../OUT"), file("s/escape", "x")}, []string{"OUT/escape"}},
		{"dangling-chain-then-write", []ent{symlink("a", "b/c"), symlink("b", "/../d"), file("a/x", "x")}, []string{"a", "b", "d/c/x"}},
		{"symlink-to-dot-then-write", []ent{symlink("s", "."), file("s/s2/x", "x")}, []string{"s", "s2/x"}},
		{"symlink-dir-then-write", []ent{dir("d/", 0o755), symlink("s", "d/../../e"), file("s/x", "x")}, []string{"e/x"}},
		{"symlink-loop-then-write", []ent{symlink("a", "b"), symlink("b", "a"), file("a/x", "x")}, nil},
		{"symlink-to-file-then-write", []ent{file("f", "f"), symlink("s", "f"), file("s/x", "x")}, nil},
		{"hardlink-out", []ent{hardlink("h", "../../OUT/victim")}, nil},
		{"hardlink-absolute", []ent{hardlink("h", "/OUT/victim")}, nil},
		{"hardlink-through-symlink", []ent{symlink("s", "/"), hardlink("h", "s/OUT/victim")}, nil},
		{"symlink-replaced-by-dir", []ent{symlink("s", "/OUT"), dir("s/", 0o755), file("s/escape", "x")}, []string{"s/escape"}},
		{"whiteout-through-symlink", []ent{symlink("s", "/OUT"), file("s/.wh.victim", "")}, []string{"s"}},
		{"whiteout-dotdot", []ent{file("a/.wh...", "")}, nil},
		{"long-name", []ent{file(long, "x")}, nil},
	}
	// Failures must say why.
	errWant := map[string]string{
		"symlink-loop-then-write":    `extract "a/x": open directory a: too many levels of symbolic links`,
		"symlink-to-file-then-write": `extract "s/x": open directory s: not a directory`,
		"dotdot":                     "path escapes the root",
		"hardlink-out":               "escapes the root",
	}
	for _, c := range cases {
		for _, how := range []string{"ensure", "apply"} {
			t.Run(c.name+"/"+how, func(t *testing.T) {
				base := t.TempDir()
				// base/a/b/root is the root; base/OUT a victim outside it.
				out := filepath.Join(base, "OUT")
				if err := os.MkdirAll(out, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(out, "victim"), []byte("v"), 0o644); err != nil {
					t.Fatal(err)
				}
				b := mkTar(t, c.ents...)
				var root string
				var err error
				if how == "ensure" {
					root, err = NewLayers(filepath.Join(base, "a", "b")).Ensure(context.Background(), diffID(b), opener(b))
				} else {
					root = filepath.Join(base, "a", "b", "root")
					if err := os.MkdirAll(root, 0o755); err != nil {
						t.Fatal(err)
					}
					err = Apply(context.Background(), root, bytes.NewReader(b))
				}
				if len(c.inside) == 0 && err == nil {
					t.Errorf("extraction succeeded, want an error")
				}
				if w := errWant[c.name]; w != "" && (err == nil || !strings.Contains(err.Error(), w)) {
					t.Errorf("error %v, want one saying %q", err, w)
				}
				if len(c.inside) > 0 {
					if err != nil {
						t.Fatalf("extraction failed: %v", err)
					}
					for _, p := range c.inside {
						if _, err := os.Lstat(filepath.Join(root, p)); err != nil {
							t.Errorf("want %s inside the root: %v", p, err)
						}
					}
				}
				ents, _ := os.ReadDir(out)
				if len(ents) != 1 || ents[0].Name() != "victim" {
					t.Errorf("outside dir changed: %v", ents)
				}
				if b, _ := os.ReadFile(filepath.Join(out, "victim")); string(b) != "v" {
					t.Errorf("victim changed: %q", b)
				}
				for _, p := range []string{filepath.Join(base, "escape"), filepath.Join(base, "a", "escape"), "/escape"} {
					if _, err := os.Lstat(p); err == nil {
						t.Errorf("%s written outside the root", p)
					}
				}
			})
		}
	}
}

func TestEnsure(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	layer := mkTar(t, dir("d/", 0o755), file("d/.wh..wh..opq", ""), file("d/f", "f"), file(".wh.gone", ""),
		ent{name: "cap", typ: tar.TypeReg, mode: 0o4755, body: "c", uid: 7, gid: 8, xattrs: map[string]string{
			"security.capability": capV2(), "trusted.overlay.redirect": "/evil", "user.k": "v"}},
		ent{name: "blk", typ: tar.TypeBlock, mode: 0o600, major: 7, minor: 0},
		ent{name: "cap2", typ: tar.TypeLink, link: "cap", mode: 0o4755, uid: 7, gid: 8})
	t.Run("overlay-form", func(t *testing.T) {
		dir, err := NewLayers(t.TempDir()).Ensure(ctx, diffID(layer), opener(layer))
		if err != nil {
			t.Fatal(err)
		}
		if !isOpaque(filepath.Join(dir, "d")) {
			t.Errorf("d not opaque")
		}
		fi, err := os.Lstat(filepath.Join(dir, "gone"))
		if err != nil || !isWhiteout(fi) {
			t.Errorf("gone is not a whiteout device: %v %v", fi, err)
		}
		got := tree(t, dir)
		want := node{Type: 0, Mode: 0o755 | os.ModeSetuid, Uid: 7, Gid: 8, Size: 1, Nlink: 2, Body: "c",
			Mtime: baseTime.Unix(), Xattrs: map[string]string{"security.capability": capV2(), "user.k": "v"}}
		if got["cap"].Xattrs["trusted.overlay.redirect"] != "" {
			t.Errorf("trusted.overlay xattr from the tar was applied")
		}
		if d := cmpNode(want, got["cap"]); d != "" {
			t.Errorf("cap (-want +got):\n%s", d)
		}
		if got["blk"].Type != os.ModeDevice || got["blk"].Rdev != 7<<8 {
			t.Errorf("blk = %+v", got["blk"])
		}
		if got["d"].Mtime != baseTime.Unix() {
			t.Errorf("dir mtime %d, want %d (set after children)", got["d"].Mtime, baseTime.Unix())
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		l := NewLayers(t.TempDir())
		var wg sync.WaitGroup
		dirs := make([]string, 8)
		errs := make([]error, 8)
		for i := range dirs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dirs[i], errs[i] = l.Ensure(ctx, diffID(layer), opener(layer))
			}()
		}
		wg.Wait()
		for i := range dirs {
			if errs[i] != nil || dirs[i] != dirs[0] {
				t.Errorf("call %d: %s %v", i, dirs[i], errs[i])
			}
		}
		ents, _ := os.ReadDir(filepath.Dir(dirs[0]))
		if len(ents) != 1 {
			t.Errorf("layers dir holds %d entries, want 1", len(ents))
		}
		// A second Layers on the same dir (another process) reuses it.
		if d, err := NewLayers(filepath.Dir(dirs[0])).Ensure(ctx, diffID(layer), nil); err != nil || d != dirs[0] {
			t.Errorf("reuse: %s %v", d, err)
		}
	})
	t.Run("wrong-diffid", func(t *testing.T) {
		l := NewLayers(t.TempDir())
		other := mkTar(t, file("x", "x"))
		if _, err := l.Ensure(ctx, diffID(other), opener(layer)); err == nil {
			t.Fatal("want a diffID mismatch error")
		}
		ents, _ := os.ReadDir(l.dir)
		if len(ents) != 0 {
			t.Errorf("left behind: %v", ents)
		}
	})
}
