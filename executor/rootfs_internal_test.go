package executor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEnsureStaysInRoot: mount points are resolved as if the root were "/"
// (fsroot), and what is missing is created inside the root as stubs.
func TestEnsureStaysInRoot(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "root")
	for _, d := range []string{"outside", "root/real", "root/etc"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{"abs": "/real", "up": "../../../real", "out": "/../../outside", "loop": "loop"}
	for n, l := range links {
		if err := os.Symlink(l, filepath.Join(root, n)); err != nil {
			t.Fatal(err)
		}
	}
	r := &rootfs{root: root}
	for _, c := range []struct {
		name string
		kind stubKind
		want string
	}{
		{"/abs/m1", stubDir, "real/m1"},
		{"/up/m2", stubDir, "real/m2"},
		{"/out/new/f", stubFile, "outside/new/f"},
		{"/etc", stubDir, "etc"},
	} {
		got, err := r.ensure(c.name, c.kind)
		if err != nil || got != filepath.Join(root, c.want) {
			t.Errorf("ensure %s = %q, %v; want %s", c.name, got, err, filepath.Join(root, c.want))
			continue
		}
		fi, err := os.Lstat(got)
		if err != nil || fi.IsDir() != (c.kind == stubDir) {
			t.Errorf("ensure %s made %v, %v", c.name, fi, err)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(base, "outside")); len(ents) != 0 {
		t.Errorf("ensure created %v outside the root", ents)
	}
	if len(r.stubs) != 5 {
		t.Errorf("stubs = %v, want real/m1, real/m2, outside, outside/new, outside/new/f", r.stubs)
	}
	if _, err := r.ensure("/loop/x", stubDir); err == nil || !strings.Contains(err.Error(), "too many levels of symbolic links") {
		t.Errorf("ensure through a loop: %v, want ELOOP", err)
	}
	if err := removeStubs(r); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(root, "outside")); !os.IsNotExist(err) {
		t.Errorf("stub outside not removed: %v", err)
	}
}
