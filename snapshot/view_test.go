package snapshot

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/builderdev/builder/internal/testenv"
)

func TestView(t *testing.T) {
	requireRoot(t)
	l1 := mkTar(t, dir("usr/", 0o755), dir("usr/lib/", 0o755), file("usr/lib/a", "a1"), file("usr/lib/b", "b"),
		symlink("lib", "usr/lib"), symlink("abs", "/usr/lib"), dir("o/", 0o755), file("o/old", "old"),
		file("gone", "g"), dir("d/", 0o755), file("d/x", "x"), file("f", "f"))
	l2 := mkTar(t, file("usr/lib/a", "a2"), file("usr/lib/.wh.b", ""), dir("o/", 0o700), file("o/.wh..wh..opq", ""),
		file("o/new", "new"), file(".wh.gone", ""), file("d", "now a file"), dir("f/", 0o755), file("f/in", "in"),
		symlink("loop", "loop"), symlink("up", "../../usr"))
	v := NewView(ensureAll(t, NewLayers(t.TempDir()), l1, l2))
	names := func(dir string) []string {
		ents, err := v.ReadDir(dir)
		if err != nil {
			t.Fatalf("readdir %s: %v", dir, err)
		}
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return out
	}
	for _, c := range []struct {
		dir  string
		want []string
	}{
		{".", []string{"abs", "d", "f", "lib", "loop", "o", "up", "usr"}},
		{"usr/lib", []string{"a"}},
		{"o", []string{"new"}},
		{"f", []string{"in"}},
	} {
		t.Run("readdir "+c.dir, func(t *testing.T) {
			if d := cmp.Diff(c.want, names(c.dir)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
	read := func(name string) string {
		rc, err := v.Open(name)
		if err != nil {
			return "error: " + err.Error()
		}
		defer rc.Close()
		b, _ := io.ReadAll(rc)
		return string(b)
	}
	for _, c := range []struct{ name, want string }{
		{"usr/lib/a", "a2"}, {"lib/a", "a2"}, {"abs/a", "a2"}, {"/usr/../usr/lib/a", "a2"}, {"d", "now a file"},
	} {
		if got := read(c.name); got != c.want {
			t.Errorf("open %s = %q, want %q", c.name, got, c.want)
		}
	}
	for _, n := range []string{"gone", "usr/lib/b", "o/old", "d/x", "nope"} {
		if _, err := v.Lstat(n); !os.IsNotExist(err) {
			t.Errorf("lstat %s: %v, want not exist", n, err)
		}
	}
	fi, err := v.Lstat("o")
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("lstat o: %v %v", fi, err)
	}
	if _, ok := fi.Sys().(*syscall.Stat_t); !ok {
		t.Errorf("Sys() is %T", fi.Sys())
	}
	if l, err := v.Readlink("lib"); err != nil || l != "usr/lib" {
		t.Errorf("readlink lib = %q %v", l, err)
	}
	for _, c := range []struct{ in, want string }{
		{"lib/a", "usr/lib/a"}, {"/abs/new/deeper", "usr/lib/new/deeper"}, {"up/lib", "usr/lib"},
		{"d", "d"}, {".", "."}, {"f/in", "f/in"},
	} {
		if got, err := v.Resolve(c.in); err != nil || got != c.want {
			t.Errorf("resolve %s = %q %v, want %q", c.in, got, err, c.want)
		}
	}
	if _, err := v.Resolve("loop/x"); err == nil {
		t.Errorf("resolve loop: want an error")
	}
}

// TestViewThreeLayers: an opaque directory in the middle of three layers
// hides the bottom one's entries but merges with the top one's, asked in
// any order (the view remembers the directories it looked up).
func TestViewThreeLayers(t *testing.T) {
	requireRoot(t)
	l1 := mkTar(t, dir("m/", 0o755), file("m/a", "a"), dir("m/s/", 0o755), file("m/s/deep", "deep"),
		dir("x/", 0o755), file("x/y", "y"))
	l2 := mkTar(t, dir("m/", 0o755), file("m/.wh..wh..opq", ""), file("m/c", "c"))
	l3 := mkTar(t, dir("m/", 0o711), file("m/d", "d"), file("x", "now a file"))
	v := NewView(ensureAll(t, NewLayers(t.TempDir()), l1, l2, l3))
	for round := 0; round < 2; round++ {
		for _, n := range []string{"m/a", "m/s", "m/s/deep", "x/y"} {
			if _, err := v.Lstat(n); !os.IsNotExist(err) {
				t.Errorf("round %d: lstat %s: %v, want not exist", round, n, err)
			}
		}
		for _, n := range []string{"m/c", "m/d", "x"} {
			if fi, err := v.Lstat(n); err != nil || !fi.Mode().IsRegular() {
				t.Errorf("round %d: lstat %s: %v %v, want a file", round, n, fi, err)
			}
		}
		if fi, err := v.Lstat("m"); err != nil || fi.Mode().Perm() != 0o711 {
			t.Errorf("round %d: lstat m: %v %v, want the top layer's 0711 dir", round, fi, err)
		}
		ents, err := v.ReadDir("m")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		if d := cmp.Diff([]string{"c", "d"}, names); d != "" {
			t.Errorf("round %d: readdir m (-want +got):\n%s", round, d)
		}
	}
}

func TestDetect(t *testing.T) {
	requireRoot(t)
	work := t.TempDir()
	s, name, err := Detect(context.Background(), filepath.Join(work, "snap"))
	if err != nil || s == nil {
		t.Fatalf("detect: %v", err)
	}
	if name != "overlay" {
		t.Errorf("detect picked %s, want overlay on this machine", name)
	}
	if m := mountsUnder(t, work); len(m) != 0 {
		t.Errorf("mounts left behind: %v", m)
	}
	ents, _ := os.ReadDir(filepath.Join(work, "snap"))
	if len(ents) != 0 {
		t.Errorf("probe left %v", ents)
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		// t.TempDir names start with the test's name.
		for _, name := range []string{"TestConformance", "TestDetect", "TestHostile", "TestEnsure", "TestView", "FuzzApply"} {
			if len(testenv.MountsUnder(filepath.Join(os.TempDir(), name))) > 0 {
				os.Stderr.WriteString("mounts left behind by " + name + "\n")
				code = 1
			}
		}
	}
	os.Exit(code)
}
