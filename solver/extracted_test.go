package solver

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/builderdev/builder/parser"
	"github.com/builderdev/builder/snapshot"
)

// TestWriteLayerExtracted: a layer written for a stage with a RUN ahead is
// also in place as an extracted directory, from the same bytes.
func TestWriteLayerExtracted(t *testing.T) {
	ctx := context.Background()
	b := &build{s: testSolver(t, t.TempDir()), req: &Request{}}
	l, err := b.writeLayerExtracted(ctx, func(w io.Writer) error {
		tw := tar.NewWriter(w)
		body := []byte("hello")
		if err := tw.WriteHeader(&tar.Header{Name: "f", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(body); err != nil {
			return err
		}
		return tw.Close()
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	id, err := l.DiffID()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(b.s.layers.Dir(id), "f"))
	if err != nil || !bytes.Equal(data, []byte("hello")) {
		t.Fatalf("extracted layer has f = %q, %v", data, err)
	}
}

func TestRootNeedOf(t *testing.T) {
	df, err := parser.Parse(strings.NewReader("FROM scratch\nCOPY a /a\nRUN true\nCOPY --link b /b\nCOPY c /c\nWORKDIR /w\nENV X=1\n"))
	if err != nil {
		t.Fatal(err)
	}
	insts := df.Stages[0].Instructions
	for i, want := range []rootNeed{needFiles, needNames, needNames, needNames, needNothing, needNothing} {
		if got := rootNeedOf(insts[i+1:]); got != want {
			t.Errorf("rootNeedOf after %q = %v, want %v", insts[i].Original(), got, want)
		}
	}
}

// TestWriteLayerExtractedMatchesTar: the directory extracted from the bytes
// being written is the one an extraction of the stored layer tar makes,
// compared by lstat (type, mode with setuid and sticky bits, owner, size,
// mtime, link target, hard links) and content.
func TestWriteLayerExtractedMatchesTar(t *testing.T) {
	ctx := context.Background()
	b := &build{s: testSolver(t, t.TempDir()), req: &Request{}}
	when := time.Date(2021, 2, 3, 4, 5, 6, 789000000, time.UTC) // a USTAR header rounds it to the second
	entries := []struct {
		hdr  tar.Header
		body string
	}{
		{tar.Header{Typeflag: tar.TypeDir, Name: "app/", Mode: 0o755, Uid: 1000, Gid: 1000}, ""},
		{tar.Header{Typeflag: tar.TypeReg, Name: "app/run", Mode: 0o4755, Uid: 0, Gid: 0}, "#!/bin/sh\n"},
		{tar.Header{Typeflag: tar.TypeReg, Name: "app/data", Mode: 0o640, Uid: 1000, Gid: 50}, "data"},
		{tar.Header{Typeflag: tar.TypeLink, Name: "app/data.link", Linkname: "app/data", Uid: 1000, Gid: 50}, ""},
		{tar.Header{Typeflag: tar.TypeSymlink, Name: "app/current", Linkname: "../app", Uid: 1000, Gid: 1000}, ""},
		{tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777}, ""},
		{tar.Header{Typeflag: tar.TypeReg, Name: "tmp/empty", Mode: 0o600}, ""},
	}
	l, err := b.writeLayerExtracted(ctx, func(w io.Writer) error {
		tw := tar.NewWriter(w)
		for _, e := range entries {
			h := e.hdr
			h.ModTime, h.Size = when, int64(len(e.body))
			if err := tw.WriteHeader(&h); err != nil {
				return err
			}
			if _, err := io.WriteString(tw, e.body); err != nil {
				return err
			}
		}
		return tw.Close()
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	id, err := l.DiffID()
	if err != nil {
		t.Fatal(err)
	}
	side := b.s.layers.Dir(id)
	fromTar, err := snapshot.NewLayers(t.TempDir()).Ensure(ctx, id, l.Uncompressed)
	if err != nil {
		t.Fatal(err)
	}
	a, z := lstatTree(t, side), lstatTree(t, fromTar)
	if len(a) != len(entries) {
		t.Errorf("extracted beside the write: %d entries, want %d", len(a), len(entries))
	}
	// What both must show, so that equal trees are also right ones.
	if e := a["app/run"]; e.mode&os.ModeSetuid == 0 || e.mtime != when.Round(time.Second).UnixNano() {
		t.Errorf("app/run: mode %v, mtime %d; want setuid and %d", e.mode, e.mtime, when.Round(time.Second).UnixNano())
	}
	if e := a["app/data.link"]; e.ino != "app/data" || e.uid != 1000 || e.gid != 50 {
		t.Errorf("app/data.link: %+v; want a hard link to app/data owned by 1000:50", e)
	}
	if e := a["tmp"]; e.mode&os.ModeSticky == 0 || e.mtime != when.Round(time.Second).UnixNano() {
		t.Errorf("tmp: mode %v, mtime %d; want sticky and %d", e.mode, e.mtime, when.Round(time.Second).UnixNano())
	}
	for name, want := range z {
		if got, ok := a[name]; !ok || got != want {
			t.Errorf("%s: extracted beside the write %+v, from the tar %+v", name, got, want)
		}
	}
	for name := range a {
		if _, ok := z[name]; !ok {
			t.Errorf("%s: only in the directory extracted beside the write", name)
		}
	}
}

// treeEntry is what lstat and a read tell of one entry; ino is the index
// of the first entry of the tree with the same inode (hard links).
type treeEntry struct {
	mode     os.FileMode
	uid, gid uint32
	size     int64
	mtime    int64
	link     string
	content  string
	ino      string
}

func lstatTree(t *testing.T, root string) map[string]treeEntry {
	t.Helper()
	out := map[string]treeEntry{}
	firstOf := map[uint64]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		sys := fi.Sys().(*syscall.Stat_t)
		e := treeEntry{mode: fi.Mode(), uid: sys.Uid, gid: sys.Gid, mtime: fi.ModTime().UnixNano()}
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			e.link, _ = os.Readlink(p)
		case fi.Mode().IsRegular():
			e.size = fi.Size()
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			e.content = string(data)
			if first, ok := firstOf[sys.Ino]; ok {
				e.ino = first
			} else {
				firstOf[sys.Ino] = rel
				e.ino = rel
			}
		}
		out[rel] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
