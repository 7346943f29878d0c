package snapshot

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// The overlay differ reads the marks fuse-overlayfs leaves where it cannot
// make devices or set xattrs (".wh.name" files, a ".wh..wh..opq" file) and
// its unprivileged opaque xattr, and the user-namespace overlay's
// user.overlay.opaque; a new directory's opaque mark is no change.
func TestOverlayDiffReadsFuseAndUserMarks(t *testing.T) {
	work := t.TempDir()
	base := mkTar(t, dir("etc/", 0o755), file("etc/gone", "g"), file("etc/keep", "k"),
		dir("opqfile/", 0o755), file("opqfile/a", "a"),
		dir("opqx/", 0o755), file("opqx/b", "b"),
		dir("opqu/", 0o755), file("opqu/c", "c"))
	lowers := ensureAll(t, NewLayers(filepath.Join(work, "layers")), base)
	a := &overlayActive{dir: filepath.Join(work, "ov"), lowers: lowers}
	u := filepath.Join(a.dir, "u")
	for _, d := range []string{"etc", "opqfile", "opqx", "opqu", "newdir"} {
		mustDo(t, os.MkdirAll(filepath.Join(u, d), 0o755))
	}
	mustDo(t, os.WriteFile(filepath.Join(u, "etc", ".wh.gone"), nil, 0o644))
	mustDo(t, os.WriteFile(filepath.Join(u, "etc", ".wh.never"), nil, 0o644)) // hides nothing
	mustDo(t, os.WriteFile(filepath.Join(u, "opqfile", whiteoutOpaque), nil, 0o644))
	for d, x := range map[string]string{"opqx": fuseOpaqueXattr, "opqu": userOpaqueXattr, "newdir": fuseOpaqueXattr} {
		if err := unix.Lsetxattr(filepath.Join(u, d), x, []byte("y"), 0); err != nil {
			if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) {
				t.Skipf("no user xattrs here: %v", err)
			}
			t.Fatal(err)
		}
	}
	mustDo(t, os.WriteFile(filepath.Join(u, "newdir", "n"), []byte("n"), 0o644))
	for _, d := range []string{"etc", "opqfile", "opqx", "opqu", "newdir"} {
		mustDo(t, os.Chtimes(filepath.Join(u, d), baseTime, baseTime))
	}
	var buf bytes.Buffer
	if err := a.Diff(context.Background(), &buf); err != nil {
		t.Fatalf("diff: %v", err)
	}
	var names []string
	for _, h := range readTar(t, buf.Bytes()) {
		names = append(names, h.Name)
	}
	want := []string{"etc/", "etc/.wh.gone", "newdir/", "newdir/n",
		"opqfile/", "opqfile/.wh..wh..opq", "opqu/", "opqu/.wh..wh..opq", "opqx/", "opqx/.wh..wh..opq"}
	if len(names) != len(want) {
		t.Fatalf("diff entries %q, want %q", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("diff entries %q, want %q", names, want)
		}
	}
}
