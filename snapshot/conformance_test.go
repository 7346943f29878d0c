package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/mount"
)

func baseLayers(t *testing.T) [][]byte {
	l1 := mkTar(t,
		dir("bin/", 0o755), dir("etc/", 0o755),
		file("etc/keep", "keep"), file("etc/modify", "old"), file("etc/delete", "bye"),
		dir("deldir/", 0o755), file("deldir/a", "a"), dir("deldir/sub/", 0o700), file("deldir/sub/b", "b"),
		dir("dir2file/", 0o755), file("dir2file/x", "x"),
		file("file2dir", "f"),
		dir("opq/", 0o755), file("opq/a", "a"), file("opq/b", "b"),
		file("chmod", "m"), file("chown", "o"),
		dir("hl/", 0o755), file("hl/orig", "linked"), hardlink("hl/link", "hl/orig"),
		dir("tmp/", 0o1777),
		dir("same/", 0o755), file("same/x", "x"), file("samefile", "same"),
		dir("touched/", 0o755), file("touched/y", "y"),
	)
	l2 := mkTar(t, file("etc/keep2", "keep2"), file("etc/.wh.gone", ""))
	return [][]byte{l1, l2}
}

// change edits a mounted root with plain file operations.
func change(t *testing.T, root string) {
	j := func(n string) string { return filepath.Join(root, n) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	write := func(n, body string, mode os.FileMode) {
		t.Helper()
		must(os.WriteFile(j(n), []byte(body), 0o600))
		must(os.Chmod(j(n), mode))
	}
	must(os.Mkdir(j("new"), 0o700))
	must(os.Chmod(j("new"), 0o750))
	write("new/file", "new", 0o640)
	write("etc/modify", "newer content", 0o644)
	must(os.Remove(j("etc/delete")))
	must(os.RemoveAll(j("deldir")))
	must(os.RemoveAll(j("dir2file")))
	write("dir2file", "now a file", 0o644)
	must(os.Remove(j("file2dir")))
	must(os.Mkdir(j("file2dir"), 0o755))
	write("file2dir/y", "y", 0o644)
	must(os.RemoveAll(j("opq")))
	must(os.Mkdir(j("opq"), 0o755))
	write("opq/c", "c", 0o644)
	must(os.Chmod(j("chmod"), 0o600))
	must(os.Lchown(j("chown"), 1000, 1000))
	write("bin/su", "setuid", 0o755|os.ModeSetuid)
	must(os.Mkdir(j("links"), 0o755))
	write("links/a", "shared", 0o644)
	must(os.Link(j("links/a"), j("links/b")))
	must(os.Symlink("/nonexistent/target", j("dangling")))
	write("tmp/f", "tmp", 0o644)
	write("caps", "cap", 0o755)
	must(unix.Lsetxattr(j("caps"), "security.capability", []byte(capV2()), 0))
	write("xattr", "x", 0o644)
	must(unix.Lsetxattr(j("xattr"), "user.foo", []byte("bar"), 0))
	must(unix.Mknod(j("devnull"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(os.Chmod(j("devnull"), 0o666))
	must(unix.Mkfifo(j("fifo"), 0o644))
	must(os.Chmod(j("fifo"), 0o644))
	// Copied up by overlayfs, unchanged in the end: a mount-point stub made
	// and removed with the parent's times restored (as the executor does), a
	// chown to the same owner; and a directory whose only change is its mtime.
	write("same/stub", "", 0o644)
	must(os.Remove(j("same/stub")))
	must(os.Lchown(j("samefile"), 0, 0))
	write("touched/stub", "", 0o644)
	must(os.Remove(j("touched/stub")))
	setTimes(t, root, "same", "new", "new/file", "etc/modify", "etc", "dir2file", "file2dir", "file2dir/y", "opq",
		"opq/c", "chmod", "chown", "bin/su", "bin", "links/a", "links", "dangling", "tmp/f", "tmp", "caps",
		"xattr", "devnull", "fifo")
}

func expectedDiff(kind string) []hdrInfo {
	ts := baseTime.UnixNano()
	reg := func(n, body string, mode int64) hdrInfo {
		return hdrInfo{Name: n, Type: tar.TypeReg, Mode: mode, Size: int64(len(body)), Body: body, ModTime: ts}
	}
	d := func(n string, mode int64) hdrInfo {
		return hdrInfo{Name: n, Type: tar.TypeDir, Mode: mode, ModTime: ts}
	}
	wh := func(n string) hdrInfo { return hdrInfo{Name: n, Type: tar.TypeReg, ModTime: 0} }
	opqMarker := func(n string) hdrInfo { return hdrInfo{Name: n, Type: tar.TypeReg, Mode: 0o755, ModTime: 0} }
	caps := reg("caps", "cap", 0o755)
	caps.Xattrs = map[string]string{"security.capability": capV2()}
	chown := reg("chown", "o", 0o644)
	chown.Uid, chown.Gid = 1000, 1000
	xattr := reg("xattr", "x", 0o644)
	xattr.Xattrs = map[string]string{"user.foo": "bar"}
	out := []hdrInfo{
		d("bin/", 0o755), reg("bin/su", "setuid", 0o4755),
		caps, reg("chmod", "m", 0o600), chown,
		{Name: "dangling", Type: tar.TypeSymlink, Mode: 0o777, Linkname: "/nonexistent/target", ModTime: ts},
		wh(".wh.deldir"),
		{Name: "devnull", Type: tar.TypeChar, Mode: 0o666, Major: 1, Minor: 3, ModTime: ts},
		reg("dir2file", "now a file", 0o644),
		d("etc/", 0o755), wh("etc/.wh.delete"), reg("etc/modify", "newer content", 0o644),
		{Name: "fifo", Type: tar.TypeFifo, Mode: 0o644, ModTime: ts},
		d("file2dir/", 0o755),
	}
	if kind != "copy" {
		out = append(out, opqMarker("file2dir/.wh..wh..opq"))
	}
	out = append(out, reg("file2dir/y", "y", 0o644),
		d("links/", 0o755), reg("links/a", "shared", 0o644),
		hdrInfo{Name: "links/b", Type: tar.TypeLink, Mode: 0o644, Linkname: "links/a", ModTime: ts},
		d("new/", 0o750), reg("new/file", "new", 0o640),
		d("opq/", 0o755))
	if kind != "copy" {
		out = append(out, opqMarker("opq/.wh..wh..opq"))
	} else {
		out = append(out, wh("opq/.wh.a"), wh("opq/.wh.b"))
	}
	return append(out, reg("opq/c", "c", 0o644),
		d("tmp/", 0o1777), reg("tmp/f", "tmp", 0o644), xattr)
}

// TestConformance runs the same checks against every snapshotter.
func TestConformance(t *testing.T) {
	requireRoot(t)
	for _, kind := range []string{"overlay", "fuse-overlayfs", "copy"} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			work := t.TempDir()
			var s Snapshotter
			var err error
			switch kind {
			case "overlay":
				s, err = NewOverlay(filepath.Join(work, "snap"))
			case "fuse-overlayfs":
				if _, lerr := exec.LookPath("fuse-overlayfs"); lerr != nil {
					t.Skip("no fuse-overlayfs (Debian package fuse-overlayfs)")
				}
				s, err = NewFuseOverlay(filepath.Join(work, "snap"))
			default:
				s, err = NewCopy(filepath.Join(work, "snap"))
			}
			if err != nil {
				t.Fatal(err)
			}
			base := baseLayers(t)
			lowers := ensureAll(t, NewLayers(filepath.Join(work, "layers")), base...)
			a, err := s.Prepare(ctx, lowers)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Release(ctx)
			mnt := filepath.Join(work, "mnt")
			if err := os.Mkdir(mnt, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, m := range a.Mounts() {
				if err := m.MountAt(mnt); err != nil {
					t.Fatal(err)
				}
			}
			mounted := true
			defer func() {
				if mounted {
					mount.Unmount(mnt)
				}
			}()
			if _, err := os.Stat(filepath.Join(mnt, "etc/gone")); !os.IsNotExist(err) {
				t.Errorf("whiteout of etc/gone not honoured: %v", err)
			}
			change(t, mnt)
			want := tree(t, mnt)
			// Like containerd and Docker, a directory changed only in its
			// mtime is not in the layer, so it keeps the lower mtime.
			touched := want["touched"]
			if touched.Mtime == baseTime.Unix() {
				t.Fatalf("touched/ kept its mtime; the case tests nothing")
			}
			touched.Mtime = baseTime.Unix()
			want["touched"] = touched
			if err := mount.Unmount(mnt); err != nil {
				t.Fatal(err)
			}
			mounted = false

			if o, ok := a.(*overlayActive); ok {
				// The unchanged entries must really have been copied up.
				for _, n := range []string{"same", "samefile", "touched"} {
					if _, err := os.Lstat(filepath.Join(o.dir, "u", n)); err != nil {
						t.Errorf("%s not copied up, the case tests nothing: %v", n, err)
					}
				}
			}
			var diff bytes.Buffer
			if err := a.Diff(ctx, &diff); err != nil {
				t.Fatalf("diff: %v", err)
			}
			if d := cmp.Diff(expectedDiff(kind), readTar(t, diff.Bytes())); d != "" {
				t.Errorf("diff headers (-want +got):\n%s", d)
			}

			applied := filepath.Join(work, "applied")
			if err := os.Mkdir(applied, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, b := range append(base, diff.Bytes()) {
				if err := Apply(ctx, applied, bytes.NewReader(b)); err != nil {
					t.Fatalf("apply: %v", err)
				}
			}
			if d := cmp.Diff(want, tree(t, applied)); d != "" {
				t.Errorf("base+diff differs from the changed root (-root +applied):\n%s", d)
			}
			if err := a.Release(ctx); err != nil {
				t.Fatal(err)
			}
			if m := mountsUnder(t, work); len(m) != 0 {
				t.Errorf("mounts left behind: %v", m)
			}
		})
	}
}
