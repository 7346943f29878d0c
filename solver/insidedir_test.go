package solver

import (
	"os"
	"path/filepath"
	"testing"
)

// TestInsideDir: a mount source is resolved as if its root were "/": a link
// that leads out of the root resolves inside it.
func TestInsideDir(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "ctx")
	for _, d := range []string{"secret", "ctx/secret", "ctx/d"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for n, l := range map[string]string{"up": "../secret", "abs": "/secret", "rel": "d"} {
		if err := os.Symlink(l, filepath.Join(root, n)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ name, want string }{
		{"/up", "secret"}, {"/abs", "secret"}, {"/rel", "d"}, {"/", "."}, {"/../../secret", "secret"},
	} {
		got, err := insideDir(root, c.name)
		if err != nil || got != filepath.Join(root, c.want) {
			t.Errorf("insideDir %s = %q, %v; want %s", c.name, got, err, filepath.Join(root, c.want))
		}
	}
	if _, err := insideDir(root, "/missing"); !os.IsNotExist(err) {
		t.Errorf("insideDir of a missing name: %v, want not exist", err)
	}
}
