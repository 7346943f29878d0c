package solver

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/builderdev/builder/internal/filecopy"
	"github.com/builderdev/builder/parser"
)

// TestInsideDir: a mount source is resolved as if its root were "/": a link
// that leads out of the root resolves inside it. (A bind mount of a local
// source resolves its source= in the source's FS, no longer through a host
// path helper.)
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
	fsys := filecopy.DirFS(root, nil)
	for _, c := range []struct{ name, want string }{
		{"/up", "secret"}, {"/abs", "secret"}, {"/rel", "d"}, {"/", "."}, {"/../../secret", "secret"},
	} {
		got, err := localSourceName(fsys, &parser.Mount{Type: parser.MountBind, Source: c.name})
		if err != nil || got != c.want {
			t.Errorf("source %s resolves to %q, %v; want %s inside the root", c.name, got, err, c.want)
		}
	}
	if _, err := localSourceName(fsys, &parser.Mount{Type: parser.MountBind, Source: "/missing"}); !errors.Is(err, filecopy.ErrNotFound) {
		t.Errorf("a missing source: %v, want not found", err)
	}
}
