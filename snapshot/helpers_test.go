package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/testenv"
)

// baseTime is the mtime of entries in test layers.
var baseTime = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

// ent is one entry of a tar built in a test.
type ent struct {
	name, body, link string
	typ              byte
	mode             int64
	uid, gid         int
	major, minor     int64
	xattrs           map[string]string
}

func dir(name string, mode int64) ent { return ent{name: name, typ: tar.TypeDir, mode: mode} }
func file(name, body string) ent      { return ent{name: name, typ: tar.TypeReg, mode: 0o644, body: body} }
func symlink(name, target string) ent {
	return ent{name: name, typ: tar.TypeSymlink, mode: 0o777, link: target}
}
func hardlink(name, target string) ent {
	return ent{name: name, typ: tar.TypeLink, mode: 0o644, link: target}
}

// mkTar builds an uncompressed tar of the entries, in order.
func mkTar(t testing.TB, ents ...ent) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range ents {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			Linkname: e.link, Devmajor: e.major, Devminor: e.minor, ModTime: baseTime, Format: tar.FormatPAX}
		if e.typ == tar.TypeReg {
			h.Size = int64(len(e.body))
		}
		for k, v := range e.xattrs {
			if h.PAXRecords == nil {
				h.PAXRecords = map[string]string{}
			}
			h.PAXRecords[paxXattr+k] = v
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatalf("write header %s: %v", e.name, err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func diffID(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

func opener(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// ensureAll extracts the layers with Ensure and returns their dirs.
func ensureAll(t *testing.T, l *Layers, layers ...[]byte) []string {
	t.Helper()
	var dirs []string
	for _, b := range layers {
		d, err := l.Ensure(context.Background(), diffID(b), opener(b))
		if err != nil {
			t.Fatalf("ensure: %v", err)
		}
		dirs = append(dirs, d)
	}
	return dirs
}

// hdrInfo is what a test checks of a tar header.
type hdrInfo struct {
	Name, Linkname, Uname, Gname, Body string
	Type                               byte
	Mode                               int64
	Uid, Gid                           int
	Size, Major, Minor                 int64
	ModTime                            int64
	Xattrs                             map[string]string
	Atime, Ctime                       bool // whether set
}

func readTar(t *testing.T, b []byte) []hdrInfo {
	t.Helper()
	var out []hdrInfo
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		body, _ := io.ReadAll(tr)
		hi := hdrInfo{Name: h.Name, Linkname: h.Linkname, Uname: h.Uname, Gname: h.Gname, Body: string(body),
			Type: h.Typeflag, Mode: h.Mode, Uid: h.Uid, Gid: h.Gid, Size: h.Size, Major: h.Devmajor,
			Minor: h.Devminor, ModTime: h.ModTime.UnixNano(), Atime: !h.AccessTime.IsZero(), Ctime: !h.ChangeTime.IsZero()}
		for k, v := range h.PAXRecords {
			if x, ok := strings.CutPrefix(k, paxXattr); ok {
				if hi.Xattrs == nil {
					hi.Xattrs = map[string]string{}
				}
				hi.Xattrs[x] = v
			}
		}
		out = append(out, hi)
	}
}

// node is what a tree comparison checks of one entry.
type node struct {
	Type          fs.FileMode
	Mode          fs.FileMode
	Uid, Gid      uint32
	Size          int64
	Nlink         uint64
	Body, Link    string
	Rdev          uint64
	Mtime         int64 // seconds
	Xattrs        map[string]string
	OverlayOpaque bool
}

// tree records every entry under root (the root itself excepted).
func tree(t *testing.T, root string) map[string]node {
	t.Helper()
	out := map[string]node{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		n := node{Type: fi.Mode().Type(), Mode: fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky),
			Uid: st.Uid, Gid: st.Gid, Rdev: st.Rdev, Mtime: st.Mtim.Sec}
		switch {
		case fi.Mode().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			n.Body, n.Size, n.Nlink = string(b), fi.Size(), st.Nlink
		case fi.Mode()&fs.ModeSymlink != 0:
			n.Link, _ = os.Readlink(p)
		}
		xs, err := listXattrs(p)
		if err != nil {
			return err
		}
		n.Xattrs = xs
		out[filepath.ToSlash(rel)] = n
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", root, err)
	}
	return out
}

// mountsUnder lists this process's mount points under dir.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	return testenv.MountsUnder(dir)
}

func requireRoot(t testing.TB) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// capV2 is a valid security.capability value granting CAP_NET_BIND_SERVICE.
func capV2() string {
	b := make([]byte, 20)
	b[0], b[3] = 0x01, 0x02 // magic 0x02000000 | effective
	b[5] = 0x04             // permitted bit 10
	return string(b)
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

func setTimes(t *testing.T, root string, names ...string) {
	t.Helper()
	ts := []unix.Timespec{unix.NsecToTimespec(baseTime.UnixNano()), unix.NsecToTimespec(baseTime.UnixNano())}
	for _, n := range names {
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, path.Join(root, n), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			t.Fatalf("set times of %s: %v", n, err)
		}
	}
}

func cmpNode(want, got node) string {
	return cmp.Diff(want, got)
}
