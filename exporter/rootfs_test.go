package exporter_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/builderdev/builder/exporter"
	"github.com/builderdev/builder/internal/testenv"
)

func whiteout(name string) testenv.TarEntry {
	return testenv.TarEntry{Header: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o600, ModTime: testenv.Epoch()}}
}

func TestWriteRootfsTar(t *testing.T) {
	ctx := context.Background()
	xattr := file("bin/ping", "ping", 0o755, 0)
	xattr.Header.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"}
	img := buildImage(t,
		[]testenv.TarEntry{
			dir("bin/", 0o755, 0), file("bin/sh", "shell", 0o755, 0), symlink("bin/ash", "sh"), xattr,
			dir("etc/", 0o755, 0), file("etc/passwd", "root:x:0:0\n", 0o644, 0),
			dir("opt/", 0o755, 0), file("opt/a", "a", 0o644, 0), dir("opt/sub/", 0o755, 0), file("opt/sub/b", "b", 0o644, 0),
			dir("gone/", 0o755, 0), file("gone/x", "x", 0o644, 0),
			dir("rep/", 0o755, 0), file("rep/x", "x", 0o644, 0),
			dir("data/", 0o750, 1000), file("data/orig", "old", 0o640, 1000), hardlink("data/link", "data/orig"),
			dir("tmp/", 0o1777, 0), file("setuid", "s", 0o4755, 0),
		},
		[]testenv.TarEntry{
			whiteout("gone/.wh..wh..opq"), whiteout(".wh.gone"),
			dir("opt/", 0o700, 0), whiteout("opt/.wh..wh..opq"), file("opt/c", "c", 0o644, 0),
			file("data/orig", "new", 0o600, 1000),
			file("etc/passwd", "root:x:0:0\nuser:x:1000:1000\n", 0o600, 0),
			file("new/sub/f", "deep", 0o644, 1000), // parents missing from the layer
			file("rep", "now a file", 0o644, 0),
		},
		[]testenv.TarEntry{
			dir("h/", 0o755, 0), file("h/a", "same inode", 0o644, 1000), hardlink("h/b", "h/a"),
			file("dup", "first", 0o644, 0), file("dup", "second!", 0o600, 0),
			symlink("etc/passwd-link", "/etc/passwd"),
			dir("tmp/", 0o1777, 0), whiteout("tmp/.wh.nothing"),
		},
	)
	var buf bytes.Buffer
	if err := exporter.WriteRootfsTar(ctx, &buf, img); err != nil {
		t.Fatal(err)
	}
	list := testenv.TarList(t, bytes.NewReader(buf.Bytes()))
	got := testenv.TarFiles(t, bytes.NewReader(buf.Bytes())) // fails on duplicates

	type want struct {
		typ      byte
		mode     int64
		uid      int
		body     string
		linkname string
	}
	wants := map[string]want{
		"bin":             {tar.TypeDir, 0o755, 0, "", ""},
		"bin/sh":          {tar.TypeReg, 0o755, 0, "shell", ""},
		"bin/ash":         {tar.TypeSymlink, 0o777, 0, "", "sh"},
		"bin/ping":        {tar.TypeReg, 0o755, 0, "ping", ""},
		"etc":             {tar.TypeDir, 0o755, 0, "", ""},
		"etc/passwd":      {tar.TypeReg, 0o600, 0, "root:x:0:0\nuser:x:1000:1000\n", ""},
		"etc/passwd-link": {tar.TypeSymlink, 0o777, 0, "", "/etc/passwd"},
		"opt":             {tar.TypeDir, 0o700, 0, "", ""},
		"opt/c":           {tar.TypeReg, 0o644, 0, "c", ""},
		"rep":             {tar.TypeReg, 0o644, 0, "now a file", ""},
		"data":            {tar.TypeDir, 0o750, 1000, "", ""},
		"data/orig":       {tar.TypeReg, 0o600, 1000, "new", ""},
		"data/link":       {tar.TypeReg, 0o640, 1000, "old", ""}, // its target was replaced above
		"new":             {tar.TypeDir, 0o755, 0, "", ""},
		"new/sub":         {tar.TypeDir, 0o755, 0, "", ""},
		"new/sub/f":       {tar.TypeReg, 0o644, 1000, "deep", ""},
		"h":               {tar.TypeDir, 0o755, 0, "", ""},
		"h/a":             {tar.TypeReg, 0o644, 1000, "same inode", ""},
		"h/b":             {tar.TypeLink, 0o644, 0, "", "h/a"},
		"dup":             {tar.TypeReg, 0o600, 0, "second!", ""},
		"tmp":             {tar.TypeDir, 0o1777, 0, "", ""},
		"setuid":          {tar.TypeReg, 0o4755, 0, "s", ""},
	}
	for name, w := range wants {
		f, ok := got[name]
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		h := f.Header
		if h.Typeflag != w.typ || h.Mode != w.mode || h.Linkname != w.linkname || string(f.Data) != w.body ||
			(w.typ != tar.TypeLink && (h.Uid != w.uid || h.Gid != w.uid)) {
			t.Errorf("%s: type %c mode %o uid %d gid %d link %q body %q; want %+v", name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Linkname, f.Data, w)
		}
		if h.ModTime.Unix() != testenv.Epoch().Unix() && !strings.HasPrefix(name, "new") {
			t.Errorf("%s: mtime %v", name, h.ModTime)
		}
	}
	for name := range got {
		if _, ok := wants[name]; !ok {
			t.Errorf("unexpected entry %s", name)
		}
	}
	// The harness's own layer merge agrees on which paths exist.
	layers, _ := img.Layers()
	var readers []io.Reader
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		readers = append(readers, rc)
	}
	for name := range testenv.MergeLayers(t, readers...) {
		if _, ok := got[name]; !ok && name != "." {
			t.Errorf("merge has %s, rootfs tar does not", name)
		}
	}
	if v := got["bin/ping"].Header.PAXRecords["SCHILY.xattr.security.capability"]; v != xattr.Header.PAXRecords["SCHILY.xattr.security.capability"] {
		t.Errorf("capability xattr lost: %q", v)
	}
	// Parents come before children; hardlink targets before links.
	seen := map[string]bool{}
	for _, f := range list {
		n := testenv.CleanTarName(f.Header.Name)
		if d := filepath.Dir(n); d != "." && !seen[d] {
			t.Errorf("%s comes before its parent %s", n, d)
		}
		if f.Header.Typeflag == tar.TypeLink && !seen[f.Header.Linkname] {
			t.Errorf("hardlink %s comes before its target %s", n, f.Header.Linkname)
		}
		if (f.Header.Typeflag == tar.TypeDir) != strings.HasSuffix(f.Header.Name, "/") {
			t.Errorf("%s: directory names end in /, others do not", f.Header.Name)
		}
		seen[n] = true
	}

	// GNU tar extracts it as a file system: the hardlink shares an inode.
	root := t.TempDir()
	tarFile := filepath.Join(t.TempDir(), "rootfs.tar")
	if err := os.WriteFile(tarFile, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("tar", "-xpf", tarFile, "-C", root, "--numeric-owner").CombinedOutput(); err != nil {
		t.Fatalf("tar -x: %v\n%s", err, out)
	}
	a, errA := os.Stat(filepath.Join(root, "h/a"))
	b, errB := os.Stat(filepath.Join(root, "h/b"))
	if errA != nil || errB != nil || a.Sys().(*syscall.Stat_t).Ino != b.Sys().(*syscall.Stat_t).Ino {
		t.Errorf("h/a and h/b are not one inode: %v %v", errA, errB)
	}
	if fi, err := os.Stat(filepath.Join(root, "data")); err != nil || owner(fi) != [2]uint32{1000, 1000} || fi.Mode().Perm() != 0o750 {
		t.Errorf("data: %v %v", fi, err)
	}
}

func TestWriteRootfsTarEmpty(t *testing.T) {
	var buf bytes.Buffer
	if err := exporter.WriteRootfsTar(context.Background(), &buf, buildImage(t)); err != nil {
		t.Fatal(err)
	}
	if l := testenv.TarList(t, &buf); len(l) != 0 {
		t.Fatalf("empty image gave %d entries", len(l))
	}
}
