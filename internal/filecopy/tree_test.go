package filecopy

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// listHost renders every entry under dir: "rel type mode [->link] [=data]".
func listHost(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		s := rel + " " + fi.Mode().String()
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			s += " ->" + l
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			s += " =" + string(data)
		}
		out = append(out, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// noLinkFS hides the Linker of an FS: Materialize must copy.
type noLinkFS struct{ FS }

var ignoreTree = []string{"*.log", "secret", "!keep.log"}

func contextTree(t *testing.T) string {
	return mkTree(t,
		f("a.txt", 0o644, "a"), f("run.sh", 0o755, "#!/bin/sh"), f("a.log", 0o644, "ignored"),
		f("keep.log", 0o600, "kept"), d("secret", 0o700), f("secret/key", 0o600, "K"),
		d("sub", 0o750), f("sub/b.txt", 0o644, "b"), l("sub/link", "../a.txt"),
	)
}

// What a materialized bind mount of the context shows is exactly what the
// context FS shows: ignored files absent, re-included ones present, modes,
// links and mtimes kept; files are hard links when the FS can link, copies
// otherwise.
func TestMaterializeShowsWhatTheFSShows(t *testing.T) {
	src := contextTree(t)
	want := []string{
		". drwx------", // the temp dir's own mode
		"a.txt -rw-r--r-- =a", "keep.log -rw------- =kept", "run.sh -rwxr-xr-x =#!/bin/sh",
		"sub drwxr-x---", "sub/b.txt -rw-r--r-- =b", "sub/link Lrwxrwxrwx ->../a.txt",
	}
	for _, tc := range []struct {
		name   string
		fsys   FS
		linked bool
	}{{"linked", DirFS(src, ignoreTree), true}, {"copied", noLinkFS{DirFS(src, ignoreTree)}, false}} {
		t.Run(tc.name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "m")
			if err := Materialize(context.Background(), tc.fsys, ".", dst); err != nil {
				t.Fatal(err)
			}
			got := listHost(t, dst)
			w := append([]string(nil), want...)
			fi, err := os.Stat(src)
			if err != nil {
				t.Fatal(err)
			}
			w[0] = ". " + fi.Mode().String()
			if diff := cmp.Diff(w, got); diff != "" {
				t.Errorf("materialized tree (-want +got):\n%s", diff)
			}
			if same := inode(t, filepath.Join(dst, "sub/b.txt")) == inode(t, filepath.Join(src, "sub/b.txt")); same != tc.linked {
				t.Errorf("sub/b.txt is a hard link of the source: %t, want %t", same, tc.linked)
			}
			for _, p := range []string{"sub", "sub/b.txt", "run.sh"} {
				fi, err := os.Lstat(filepath.Join(dst, p))
				if err != nil {
					t.Fatal(err)
				}
				if !fi.ModTime().Equal(srcTime) {
					t.Errorf("%s: mtime %s, want %s", p, fi.ModTime(), srcTime)
				}
			}
		})
	}
}

func TestMaterializeOneFile(t *testing.T) {
	src := contextTree(t)
	fsys := DirFS(src, ignoreTree)
	name, err := ResolveName(fsys, "/sub/link")
	if err != nil {
		t.Fatal(err)
	}
	if name != "a.txt" {
		t.Errorf("ResolveName(/sub/link) = %q, want a.txt", name)
	}
	dst := filepath.Join(t.TempDir(), "f")
	if err := Materialize(context.Background(), noLinkFS{fsys}, name, dst); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(dst); err != nil || string(data) != "a" {
		t.Errorf("materialized file = %q, %v; want \"a\"", data, err)
	}
	for _, ignored := range []string{"a.log", "secret/key", "secret"} {
		if _, err := ResolveName(fsys, ignored); !errors.Is(err, ErrNotFound) {
			t.Errorf("ResolveName(%s) = %v, want ErrNotFound (ignored)", ignored, err)
		}
	}
}

// TreeSum changes with what the tree shows and only with that.
func TestTreeSum(t *testing.T) {
	src := contextTree(t)
	stats, err := OpenStatCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sum := func() v1.Hash {
		t.Helper()
		h, err := TreeSum(context.Background(), nil, DirFS(src, ignoreTree), ".", stats)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	write := func(p, data string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(src, p), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base := sum()
	if again := sum(); again != base {
		t.Fatalf("two sums of one tree differ: %s, %s", base, again)
	}
	write("a.log", "still ignored, changed")
	write("secret/key", "K2")
	if got := sum(); got != base {
		t.Errorf("an ignored file changed the sum")
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(src, "a.txt"), later, later); err != nil {
		t.Fatal(err)
	}
	if got := sum(); got != base {
		t.Errorf("an mtime changed the sum")
	}
	write("sub/b.txt", "b2")
	changed := sum()
	if changed == base {
		t.Errorf("a visible file's content did not change the sum")
	}
	if err := os.Chmod(filepath.Join(src, "sub/b.txt"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := sum(); got == changed {
		t.Errorf("a visible file's mode did not change the sum")
	}
}

// A local context is sent with every owner 0:0 (docker's and buildx's
// resetUIDAndGID): the mount shows 0:0 and the key does not depend on who
// owns the checkout. A file owned by someone else is copied, never linked
// (a link would show its owner, and a chown would change the source).
func TestTreeOwnersAreRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	src := contextTree(t)
	before, err := TreeSum(context.Background(), nil, DirFS(src, ignoreTree), ".", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"a.txt", "sub", "sub/b.txt"} {
		if err := os.Lchown(filepath.Join(src, p), 1000, 1000); err != nil {
			t.Fatal(err)
		}
	}
	after, err := TreeSum(context.Background(), nil, DirFS(src, ignoreTree), ".", nil)
	if err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Errorf("the owner of the checkout changed the sum")
	}
	dst := filepath.Join(t.TempDir(), "m")
	if err := Materialize(context.Background(), DirFS(src, ignoreTree), ".", dst); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"a.txt", "sub", "sub/b.txt", "sub/link", "run.sh"} {
		fi, err := os.Lstat(filepath.Join(dst, p))
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 || st.Gid != 0 {
			t.Errorf("%s: owner %d:%d, want 0:0", p, st.Uid, st.Gid)
		}
	}
	if inode(t, filepath.Join(dst, "a.txt")) == inode(t, filepath.Join(src, "a.txt")) {
		t.Errorf("a.txt (owned 1000:1000) was linked, want a copy")
	}
	if inode(t, filepath.Join(dst, "run.sh")) != inode(t, filepath.Join(src, "run.sh")) {
		t.Errorf("run.sh (owned 0:0) was copied, want a link")
	}
	if fi, err := os.Lstat(filepath.Join(src, "a.txt")); err != nil || fi.Sys().(*syscall.Stat_t).Uid != 1000 {
		t.Errorf("the source's owner changed: %v", err)
	}
}
