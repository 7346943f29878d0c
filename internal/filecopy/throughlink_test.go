package filecopy

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// linkedDest is a destination root whose links lead to directories: an
// absolute one, a relative one, one through "../../.." (which resolves
// inside the root), and one to a file.
func linkedDest(t *testing.T) FS {
	return DirFS(mkTree(t, d("real", 0o750), f("real/old", 0o644, "old"), d("opt", 0o755),
		l("abs", "/real"), l("rel", "real"), l("opt/up", "../../../real"), l("file", "real/old")), nil)
}

func tarOf(t *testing.T, hdrs ...tar.Header) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		h.ModTime = time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
		data := ""
		if h.Typeflag == tar.TypeReg {
			data = h.Name
			h.Size = int64(len(data))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestAddThroughDestLinks: ADD extracts through a destination (or a path
// inside the archive) that is a symlink to a directory in the image, as
// BuildKit does, and COPY writes through a destination that is such a link.
// A link that leads outside the root resolves inside it.
func TestAddThroughDestLinks(t *testing.T) {
	ctx := t.TempDir()
	arch := tarOf(t,
		tar.Header{Name: "sub/", Typeflag: tar.TypeDir, Mode: 0o700},
		tar.Header{Name: "sub/a", Typeflag: tar.TypeReg, Mode: 0o644},
	)
	inner := tarOf(t,
		tar.Header{Name: "abs/x", Typeflag: tar.TypeReg, Mode: 0o644},
		tar.Header{Name: "opt/up/y", Typeflag: tar.TypeReg, Mode: 0o600},
		tar.Header{Name: "rel/deep/z", Typeflag: tar.TypeReg, Mode: 0o644},
		tar.Header{Name: "rel/deep/hard", Typeflag: tar.TypeLink, Linkname: "abs/x", Mode: 0o644},
	)
	toFile := tarOf(t, tar.Header{Name: "file/no", Typeflag: tar.TypeReg, Mode: 0o644})
	for n, b := range map[string][]byte{"a.tar": arch, "inner.tar": inner, "tofile.tar": toFile} {
		if err := os.WriteFile(filepath.Join(ctx, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(ctx, "dir/s"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctx, "dir/s/f"), []byte("F"), 0o644); err != nil {
		t.Fatal(err)
	}
	src := DirFS(ctx, nil)
	for _, c := range []struct {
		name string
		req  Request
		want []string
		err  string
	}{
		{"ADD to an absolute link", Request{IsAdd: true, Sources: []string{"a.tar"}, DestPath: "/abs"},
			[]string{"real/ 5 0750 0:0", "real/sub/ 5 0700 0:0", "real/sub/a 0 0644 0:0 =sub/a"}, ""},
		{"ADD to a relative link with a slash", Request{IsAdd: true, Sources: []string{"a.tar"}, DestPath: "/rel/"},
			[]string{"real/ 5 0750 0:0", "real/sub/ 5 0700 0:0", "real/sub/a 0 0644 0:0 =sub/a"}, ""},
		{"ADD to a link that climbs out of the root", Request{IsAdd: true, Sources: []string{"a.tar"}, DestPath: "/opt/up"},
			[]string{"real/ 5 0750 0:0", "real/sub/ 5 0700 0:0", "real/sub/a 0 0644 0:0 =sub/a"}, ""},
		{"ADD through links inside the archive", Request{IsAdd: true, Sources: []string{"inner.tar"}, DestPath: "/"},
			// the link sorts before its target: it carries the file, so that
			// the layer extracts
			[]string{"real/ 5 0750 0:0", "real/deep/ 5 0755 0:0", "real/deep/hard 0 0644 0:0 =abs/x",
				"real/deep/z 0 0644 0:0 =rel/deep/z", "real/x 1 0644 0:0 ->real/deep/hard", "real/y 0 0600 0:0 =opt/up/y"}, ""},
		{"ADD below a link to a file fails", Request{IsAdd: true, Sources: []string{"tofile.tar"}, DestPath: "/"},
			nil, "cannot copy to non-directory: /real/old"},
		{"COPY a dir to a link", Request{Sources: []string{"dir"}, DestPath: "/opt/up"},
			[]string{"real/ 5 0750 0:0", "real/s/ 5 0755 0:0", "real/s/f 0 0644 0:0 =F"}, ""},
		{"COPY a file to a link", Request{Sources: []string{"dir/s/f"}, DestPath: "/abs"},
			[]string{"real/ 5 0750 0:0", "real/f 0 0644 0:0 =F"}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.req.Src, c.req.Dest = src, linkedDest(t)
			got, err := runCopy(t, c.req)
			if c.err != "" {
				mustContain(t, err, c.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, strs(got)); diff != "" {
				t.Errorf("layer (-want +got):\n%s", diff)
			}
		})
	}
}
