package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// indexed is what a test compares of an entry, on disk or in an index.
type indexed struct {
	Type         fs.FileMode
	Mode         fs.FileMode // permissions and setuid, setgid, sticky
	Uid, Gid     uint32
	Size         int64 // regular files and symlinks
	Link         string
	Rdev         uint64
	Nlink        uint64 // regular files
	Mtime        int64  // ns; 0 for what the extraction makes itself
	Opaque       bool
	Whiteout     bool
	Children     []string // directories
	ChildrenType []fs.FileMode
}

func indexedOf(t *testing.T, fi fs.FileInfo, dated bool) indexed {
	t.Helper()
	st := fi.Sys().(*syscall.Stat_t)
	e := indexed{Type: fi.Mode().Type(), Mode: fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky),
		Uid: st.Uid, Gid: st.Gid, Rdev: st.Rdev, Whiteout: isWhiteout(fi)}
	if dated {
		e.Mtime = st.Mtim.Nano()
	}
	switch {
	case fi.Mode().IsRegular():
		e.Size, e.Nlink = fi.Size(), st.Nlink
	case fi.Mode()&fs.ModeSymlink != 0:
		e.Size = fi.Size()
	}
	return e
}

// dated returns the names the tar has a header for (not whiteouts): the
// entries whose mtime the extraction takes from the tar.
func datedNames(t *testing.T, b []byte) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if err != nil {
			return out
		}
		n, ok := cleanName(h.Name)
		if !ok || n == "." {
			continue // the root keeps its attributes
		}
		if b := path.Base(n); !strings.HasPrefix(b, whiteoutPrefix) {
			out[n] = true
		} else {
			out[path.Join(path.Dir(n), strings.TrimPrefix(b, whiteoutPrefix))] = false // made by the extraction
		}
	}
}

// onDisk records every entry of the extracted layer dir.
func onDisk(t *testing.T, root string, dated map[string]bool) map[string]indexed {
	t.Helper()
	out := map[string]indexed{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		e := indexedOf(t, fi, dated[rel])
		switch {
		case fi.IsDir():
			e.Opaque = rel != "." && isOpaque(p)
			ents, err := os.ReadDir(p)
			if err != nil {
				return err
			}
			for _, c := range ents {
				e.Children = append(e.Children, c.Name())
				e.ChildrenType = append(e.ChildrenType, c.Type())
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Link, _ = os.Readlink(p)
		}
		out[rel] = e
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return out
}

// inIndex records every entry of ix, as onDisk does.
func inIndex(t *testing.T, ix *Index, dated map[string]bool) map[string]indexed {
	t.Helper()
	out := map[string]indexed{}
	var walk func(name string)
	walk = func(name string) {
		fi, err := ix.lstat(name)
		if err != nil {
			t.Fatalf("index lstat %s: %v", name, err)
		}
		e := indexedOf(t, fi, dated[name])
		switch {
		case fi.IsDir():
			e.Opaque = name != "." && ix.opaque(name)
			ents, err := ix.readDir(name)
			if err != nil {
				t.Fatalf("index readdir %s: %v", name, err)
			}
			for _, c := range ents {
				e.Children = append(e.Children, c.Name())
				e.ChildrenType = append(e.ChildrenType, c.Type())
				walk(path.Join(name, c.Name()))
			}
		case fi.Mode()&fs.ModeSymlink != 0:
			if e.Link, err = ix.readlink(name); err != nil {
				t.Fatalf("index readlink %s: %v", name, err)
			}
		}
		out[name] = e
	}
	walk(".")
	return out
}

// checkIndexMatches extracts the layer tar b and indexes it, and reports
// every difference between the two. indexable is false when ReadIndex
// refused the tar (its extraction is then what a view uses); a tar the
// extraction refuses is skipped.
func checkIndexMatches(t *testing.T, b []byte) (indexable bool) {
	t.Helper()
	root := filepath.Join(t.TempDir(), "layer")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := extract(context.Background(), root, bytes.NewReader(b), whiteoutsAsOverlay, extractOptions{maxSize: -1}); err != nil {
		t.Skipf("extraction refuses the tar: %v", err)
	}
	ix, err := ReadIndex(context.Background(), bytes.NewReader(b))
	if err != nil {
		if !errors.Is(err, errNotIndexable) {
			t.Errorf("ReadIndex: %v; the extraction took the tar", err)
		}
		return false
	}
	dated := datedNames(t, b)
	want := onDisk(t, root, dated)
	if d := cmp.Diff(want, inIndex(t, ix, dated)); d != "" {
		t.Errorf("index differs from the extraction (-extracted +index):\n%s", d)
	}
	data, err := ix.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalIndex(data)
	if err != nil {
		t.Fatalf("UnmarshalIndex of MarshalBinary: %v", err)
	}
	if d := cmp.Diff(want, inIndex(t, back, dated)); d != "" {
		t.Errorf("decoded index differs from the extraction (-extracted +decoded):\n%s", d)
	}
	return true
}

// TestUnmarshalIndexRefusesDamage: a truncated, altered or foreign file is
// an error, never a wrong index.
func TestUnmarshalIndexRefusesDamage(t *testing.T) {
	ix, err := ReadIndex(context.Background(), bytes.NewReader(mkTar(t, dir("a/", 0o755), file("a/f", "f"), symlink("l", "a"))))
	if err != nil {
		t.Fatal(err)
	}
	data, err := ix.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		if _, err := UnmarshalIndex(data[:i]); err == nil {
			t.Fatalf("truncated to %d of %d bytes: no error", i, len(data))
		}
		altered := append([]byte(nil), data...)
		altered[i] ^= 0x20
		if _, err := UnmarshalIndex(altered); err == nil {
			t.Fatalf("byte %d altered: no error", i)
		}
	}
	if _, err := UnmarshalIndex(append(data, 0)); err == nil {
		t.Errorf("trailing byte: no error")
	}
}

// TestIndexMatchesExtraction: an index of a layer says, of every entry,
// what lstat of the extracted entry says (type, mode with setuid, setgid
// and sticky, owner, size, link count, device, mtime, symlink target),
// lists each directory as the extraction does, and marks whiteouts and
// opaque directories alike.
func TestIndexMatchesExtraction(t *testing.T) {
	requireRoot(t)
	ns := time.Date(2021, 2, 3, 4, 5, 6, 789, time.UTC)
	at := func(e ent, uid, gid int) ent { e.uid, e.gid = uid, gid; return e }
	withMode := func(e ent, m int64) ent { e.mode = m; return e }
	cases := map[string][]byte{
		"view layers": mkTar(t, dir("usr/", 0o755), dir("usr/lib/", 0o755), file("usr/lib/a", "a1"),
			symlink("lib", "usr/lib"), symlink("abs", "/usr/lib"), dir("o/", 0o755), file("o/old", "old"),
			file("usr/lib/.wh.b", ""), dir("q/", 0o700), file("q/.wh..wh..opq", ""), file("q/new", "new"),
			file(".wh.gone", ""), file("d", "now a file"), symlink("loop", "loop")),
		"modes and owners": mkTar(t, at(withMode(dir("app/", 0o2775), 0o2775), 1000, 1000),
			at(withMode(file("app/run", "#!"), 0o4755), 0, 0), at(withMode(file("app/data", "data"), 0o640), 1000, 50),
			withMode(dir("tmp/", 0o1777), 0o1777), at(symlink("app/current", "../app"), 7, 8)),
		"implied parents": mkTar(t, file("a/b/c/d", "deep"), file("a/x", "x"), dir("a/b/", 0o700)),
		"replacements": mkTar(t, dir("x/", 0o755), file("x/in", "in"), file("x", "file now"),
			file("y", "file"), dir("y/", 0o711), file("y/in", "in"),
			dir("z/", 0o755), dir("z/", 0o700), symlink("s", "x"), file("s", "plain")),
		"hard links": mkTar(t, file("a", "shared"), hardlink("b", "a"), at(withMode(hardlink("sub/c", "a"), 0o600), 5, 6),
			file("solo", "one"), hardlink("gone", "solo"), file(".wh.gone", "")),
		"whiteouts": mkTar(t, dir("d/", 0o755), file("d/f", "f"), file(".wh.d", ""), file("e/.wh.deep", ""),
			file("o/.wh..wh..opq", ""), file("o/keep", "k"), file(".wh..wh.plnk", "")),
		"devices": mkTar(t, ent{name: "dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3},
			ent{name: "dev/sda", typ: tar.TypeBlock, mode: 0o660, major: 8, gid: 6}, ent{name: "fifo", typ: tar.TypeFifo, mode: 0o600}),
	}
	// Nanosecond mtimes (a PAX header keeps them).
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Typeflag: tar.TypeDir, Name: "n/", Mode: 0o755, ModTime: ns, Format: tar.FormatPAX},
		{Typeflag: tar.TypeReg, Name: "n/f", Mode: 0o644, ModTime: ns.Add(time.Hour), Format: tar.FormatPAX},
		{Typeflag: tar.TypeSymlink, Name: "n/l", Linkname: "f", ModTime: ns.Add(2 * time.Hour), Format: tar.FormatPAX},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	cases["nanoseconds"] = buf.Bytes()
	for _, name := range sortedKeys(cases) {
		t.Run(name, func(t *testing.T) {
			if !checkIndexMatches(t, cases[name]) {
				t.Errorf("ReadIndex refused the tar")
			}
		})
	}
}

// TestIndexRefusesWhatItCannotFollow: an entry below a symlink of the
// layer (which the extraction follows) and a hard link to an entry
// below one make ReadIndex fail, so that the layer is extracted.
func TestIndexRefusesWhatItCannotFollow(t *testing.T) {
	for name, b := range map[string][]byte{
		"entry below a symlink":      mkTar(t, dir("real/", 0o755), symlink("s", "real"), file("s/x", "x")),
		"hard link below a symlink":  mkTar(t, dir("real/", 0o755), file("real/f", "f"), symlink("s", "real"), hardlink("h", "s/f")),
		"hard link to nothing":       mkTar(t, hardlink("h", "missing")),
		"entry below a regular file": mkTar(t, file("f", "f"), file("f/x", "x")),
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ReadIndex(context.Background(), bytes.NewReader(b)); !errors.Is(err, errNotIndexable) {
				t.Errorf("ReadIndex: %v, want errNotIndexable", err)
			}
		})
	}
	if _, err := ReadIndex(context.Background(), bytes.NewReader(mkTar(t, file("../x", "x")))); err == nil {
		t.Errorf("ReadIndex of an entry outside the root: no error")
	}
}

// TestLazyView: a view whose top layer is only indexed answers lookups,
// listings, symlinks and resolution as the view over both extracted
// layers does, without extracting it; the first Open of a file in it
// extracts it once.
func TestLazyView(t *testing.T) {
	requireRoot(t)
	l1 := mkTar(t, dir("usr/", 0o755), dir("usr/lib/", 0o755), file("usr/lib/a", "a1"), file("usr/lib/b", "b"),
		symlink("lib", "usr/lib"), dir("o/", 0o755), file("o/old", "old"), file("gone", "g"), dir("d/", 0o755), file("d/x", "x"))
	l2 := mkTar(t, file("usr/lib/a", "a2"), file("usr/lib/.wh.b", ""), dir("o/", 0o700), file("o/.wh..wh..opq", ""),
		file("o/new", "new"), file(".wh.gone", ""), file("d", "now a file"), symlink("up", "../../usr"))
	layers := NewLayers(t.TempDir())
	dirs := ensureAll(t, layers, l1, l2)
	eager := NewView(dirs)
	ix, err := ReadIndex(context.Background(), bytes.NewReader(l2))
	if err != nil {
		t.Fatal(err)
	}
	extracted := 0
	lazy := NewLazyView([]Lower{{Dir: dirs[0]}, {Index: ix, Extract: func() (string, error) {
		extracted++
		return dirs[1], nil
	}}})
	dated := datedNames(t, l2)
	for _, name := range []string{".", "usr", "usr/lib", "o", "lib", "up", "d", "gone", "usr/lib/b", "o/old", "d/x", "nope"} {
		want, werr := eager.Lstat(name)
		got, gerr := lazy.Lstat(name)
		if (werr == nil) != (gerr == nil) {
			t.Errorf("lstat %s: %v, want %v", name, gerr, werr)
			continue
		}
		if werr != nil {
			continue
		}
		if d := cmp.Diff(indexedOf(t, want, dated[name]), indexedOf(t, got, dated[name])); name != "." && d != "" {
			t.Errorf("lstat %s (-eager +lazy):\n%s", name, d)
		}
		if !want.IsDir() {
			continue
		}
		we, _ := eager.ReadDir(name)
		ge, err := lazy.ReadDir(name)
		if err != nil {
			t.Fatalf("readdir %s: %v", name, err)
		}
		names := func(es []fs.DirEntry) (out []string) {
			for _, e := range es {
				out = append(out, e.Name()+":"+e.Type().String())
			}
			return out
		}
		if !slices.Equal(names(we), names(ge)) {
			t.Errorf("readdir %s = %v, want %v", name, names(ge), names(we))
		}
	}
	for _, name := range []string{"lib/a", "up/lib/new", "/lib/../o/new"} {
		want, _ := eager.Resolve(name)
		if got, err := lazy.Resolve(name); err != nil || got != want {
			t.Errorf("resolve %s = %q %v, want %q", name, got, err, want)
		}
	}
	if l, err := lazy.Readlink("up"); err != nil || l != "../../usr" {
		t.Errorf("readlink up = %q %v", l, err)
	}
	if extracted != 0 {
		t.Fatalf("lookups extracted the indexed layer %d times", extracted)
	}
	for _, c := range []struct{ name, want string }{{"usr/lib/a", "a2"}, {"o/new", "new"}, {"lib/a", "a2"}} {
		rc, err := lazy.Open(c.name)
		if err != nil {
			t.Fatalf("open %s: %v", c.name, err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != c.want {
			t.Errorf("open %s = %q, want %q", c.name, b, c.want)
		}
	}
	if extracted != 1 {
		t.Errorf("opens extracted the indexed layer %d times, want 1", extracted)
	}
	failing := NewLazyView([]Lower{{Index: ix, Extract: func() (string, error) { return "", errors.New("disk full") }}})
	if _, err := failing.Open("usr/lib/a"); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("open with a failing extraction: %v", err)
	}
}

// FuzzIndex compares the index of layers built from FuzzApply's scripts
// with their extraction: whatever tar both take, they must agree.
func FuzzIndex(f *testing.F) {
	requireRoot(f)
	for _, s := range []string{
		"fa\nha2|a\nwa\nfa", "dd\nod\nfd/f", "fa/b/c\nda/b\nwa/b", "dx\nfx/y\nfx", "fx\ndx\nfx/y", "pp\nhq|p\nwp",
		"cc\nhd|c", "ls|t\nwl", "da\noa\nfa/x\noa", "fa\nhb|a\nhc|b\nwb",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, script string) {
		b, ok := scriptTar(script)
		if !ok {
			t.Skip("entries tar cannot encode")
		}
		checkIndexMatches(t, b)
	})
}
