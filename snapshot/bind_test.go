package snapshot

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/builderdev/builder/internal/mount"
)

// Lowers stacks a directory's copies down to the one that replaces or
// hides what is below; a file is its top copy alone; a whiteout ends it.
func TestLowers(t *testing.T) {
	requireRoot(t)
	l := NewLayers(t.TempDir())
	dirs := ensureAll(t, l,
		mkTar(t, dir("d/", 0o755), file("d/a", "a"), dir("o/", 0o755), file("o/old", "x"), file("gone", "g"), dir("w/", 0o755)),
		mkTar(t, dir("d/", 0o755), file("d/b", "b"), dir("o/", 0o755), file("o/.wh..wh..opq", ""), file("o/new", "n"), file(".wh.gone", "")),
		mkTar(t, dir("d/", 0o755), file("d/c", "c"), file("f", "top")),
	)
	for _, tc := range []struct {
		name string
		want []string
	}{
		{"d", []string{filepath.Join(dirs[2], "d"), filepath.Join(dirs[1], "d"), filepath.Join(dirs[0], "d")}},
		{"o", []string{filepath.Join(dirs[1], "o")}},
		{"f", []string{filepath.Join(dirs[2], "f")}},
		{"w", []string{filepath.Join(dirs[0], "w")}},
	} {
		got, err := Lowers(dirs, tc.name)
		if err != nil {
			t.Errorf("Lowers(%s): %v", tc.name, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("Lowers(%s) (-want +got):\n%s", tc.name, diff)
		}
	}
	for _, missing := range []string{"gone", "nothing"} {
		if _, err := Lowers(dirs, missing); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Lowers(%s) = %v, want not exist", missing, err)
		}
	}
}

func TestBindMount(t *testing.T) {
	base := t.TempDir()
	d1, d2, f := filepath.Join(base, "d1"), filepath.Join(base, "d2"), filepath.Join(base, "f")
	for _, d := range []string{d1, d2} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(base, "work")
	for _, tc := range []struct {
		name     string
		lowers   []string
		readOnly bool
		want     mount.Mount
	}{
		{"one read-only dir is a bind", []string{d1}, true, mount.Mount{Type: "bind", Source: d1, Target: "/t", Options: []string{"rbind", "ro"}}},
		{"one read-only file is a bind", []string{f}, true, mount.Mount{Type: "bind", Source: f, Target: "/t", Options: []string{"rbind", "ro"}}},
		{"read-only stack is an overlay", []string{d2, d1}, true, mount.Mount{Type: "overlay", Source: "overlay", Target: "/t", Options: []string{"lowerdir=" + d2 + ":" + d1, "ro"}}},
		{"read-write writes to a throwaway upper", []string{d1}, false, mount.Mount{Type: "overlay", Source: "overlay", Target: "/t",
			Options: []string{"lowerdir=" + d1, "upperdir=" + filepath.Join(work, "upper"), "workdir=" + filepath.Join(work, "work")}}},
	} {
		got, err := BindMount(tc.lowers, "/t", work, tc.readOnly)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
	for _, d := range []string{"upper", "work"} {
		if fi, err := os.Stat(filepath.Join(work, d)); err != nil || !fi.IsDir() {
			t.Errorf("read-write mount: %s not created under work (%v)", d, err)
		}
	}
	if _, err := BindMount([]string{f}, "/t", work, false); !errors.Is(err, ErrFileReadWrite) {
		t.Errorf("read-write file mount: %v, want ErrFileReadWrite", err)
	}
}
