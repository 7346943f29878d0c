package filecopy

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var (
	srcTime  = time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	stepTime = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
)

// node describes a file to create: kind is f (file), d (dir), l (symlink,
// data is the target), h (hard link, data is the existing path).
type node struct {
	path string
	kind byte
	mode fs.FileMode
	data string
}

func f(p string, mode fs.FileMode, data string) node { return node{p, 'f', mode, data} }
func d(p string, mode fs.FileMode) node              { return node{p, 'd', mode, ""} }
func l(p, target string) node                        { return node{p, 'l', 0, target} }
func h(p, existing string) node                      { return node{p, 'h', 0, existing} }

// mkTree creates nodes under a new temp dir with srcTime mtimes.
func mkTree(t *testing.T, nodes ...node) string {
	t.Helper()
	root := t.TempDir()
	for _, n := range nodes {
		p := filepath.Join(root, n.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		var err error
		switch n.kind {
		case 'f':
			if err = os.WriteFile(p, []byte(n.data), 0o600); err == nil {
				err = os.Chmod(p, n.mode)
			}
		case 'd':
			if err = os.Mkdir(p, 0o700); err == nil || errors.Is(err, fs.ErrExist) {
				err = os.Chmod(p, n.mode)
			}
		case 'l':
			err = os.Symlink(n.data, p)
		case 'h':
			err = os.Link(filepath.Join(root, n.data), p)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// fix mtimes deepest first so parents keep theirs
	for i := len(nodes) - 1; i >= 0; i-- {
		p := filepath.Join(root, nodes[i].path)
		if nodes[i].kind == 'l' {
			continue
		}
		if err := os.Chtimes(p, srcTime, srcTime); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// entryString renders a tar header (and content) compactly:
// "name type mode uid:gid [->link] [=content]".
func entryString(hdr *tar.Header, content []byte) string {
	s := fmt.Sprintf("%s %c %04o %d:%d", hdr.Name, hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid)
	if hdr.Linkname != "" {
		s += " ->" + hdr.Linkname
	}
	if hdr.Typeflag == tar.TypeReg {
		s += " =" + string(content)
	}
	return s
}

type tarEntry struct {
	hdr     *tar.Header
	content []byte
}

func readTar(t *testing.T, b []byte) []tarEntry {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(b))
	var out []tarEntry
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read layer tar: %v", err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(data)) != hdr.Size {
			t.Fatalf("%s: size %d but %d bytes", hdr.Name, hdr.Size, len(data))
		}
		if hdr.Uname != "" || hdr.Gname != "" {
			t.Errorf("%s: uname/gname %q/%q, want numeric ids only", hdr.Name, hdr.Uname, hdr.Gname)
		}
		if !hdr.AccessTime.IsZero() || !hdr.ChangeTime.IsZero() {
			t.Errorf("%s: atime/ctime set", hdr.Name)
		}
		out = append(out, tarEntry{hdr, data})
	}
}

func runCopy(t *testing.T, req Request) ([]tarEntry, error) {
	t.Helper()
	if req.ModTime.IsZero() {
		req.ModTime = stepTime
	}
	if req.TmpDir == "" {
		req.TmpDir = t.TempDir()
	}
	var buf bytes.Buffer
	if err := Copy(context.Background(), req, &buf); err != nil {
		return nil, err
	}
	return readTar(t, buf.Bytes()), nil
}

func strs(es []tarEntry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = entryString(e.hdr, e.content)
	}
	return out
}

func mustContain(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error = %v, want it to contain %q", err, want)
	}
}
