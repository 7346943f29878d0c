package filecopy

import (
	"archive/tar"
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/builderdev/builder/internal/user"
	"github.com/google/go-cmp/cmp"
)

// testArchive is a tar with a dir, an owned file, a symlink and a hard link.
func testArchive(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mt := time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, e := range []struct {
		hdr  tar.Header
		data string
	}{
		{tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt}, ""},
		{tar.Header{Name: "pkg/", Typeflag: tar.TypeDir, Mode: 0o750, Uid: 1000, Gid: 1000, ModTime: mt}, ""},
		{tar.Header{Name: "pkg/bin", Typeflag: tar.TypeReg, Mode: 0o4755, Uid: 1000, Gid: 50, ModTime: mt}, "binary"},
		{tar.Header{Name: "pkg/ln", Typeflag: tar.TypeSymlink, Linkname: "bin", Mode: 0o777, ModTime: mt}, ""},
		{tar.Header{Name: "pkg/hard", Typeflag: tar.TypeLink, Linkname: "pkg/bin", ModTime: mt}, ""},
		{tar.Header{Name: "deep/a/b", Typeflag: tar.TypeReg, Mode: 0o600, ModTime: mt}, "b"},
	} {
		hdr := e.hdr
		hdr.Size = int64(len(e.data))
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestAddArchive(t *testing.T) {
	raw := testArchive(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "app.tar"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ tool, ext string }{{"gzip", ".gz"}, {"bzip2", ".bz2"}, {"xz", ".xz"}, {"zstd", ".zst"}} {
		cmd := exec.Command(c.tool, "-k", "-q", filepath.Join(dir, "app.tar"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", c.tool, err, out)
		}
	}
	// an archive under a misleading name: detection is by content
	if err := os.Rename(filepath.Join(dir, "app.tar.xz"), filepath.Join(dir, "app.bin")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "notar.tar.gz"), []byte("just text"), 0o644); err != nil {
		t.Fatal(err)
	}
	extracted := []string{
		"opt/ 5 0755 0:0", "opt/deep/ 5 0755 0:0", "opt/deep/a/ 5 0755 0:0", "opt/deep/a/b 0 0600 0:0 =b",
		"opt/pkg/ 5 0750 1000:1000", "opt/pkg/bin 0 4755 1000:50 =binary",
		"opt/pkg/hard 1 0000 0:0 ->opt/pkg/bin", "opt/pkg/ln 2 0777 0:0 ->bin",
	}
	no := false
	tests := []struct {
		name string
		req  Request
		want []string
	}{
		{"tar", Request{IsAdd: true, Sources: []string{"app.tar"}, DestPath: "/opt"}, extracted},
		{"gzip", Request{IsAdd: true, Sources: []string{"app.tar.gz"}, DestPath: "/opt/"}, extracted},
		{"bzip2", Request{IsAdd: true, Sources: []string{"app.tar.bz2"}, DestPath: "/opt/"}, extracted},
		{"xz detected by content", Request{IsAdd: true, Sources: []string{"app.bin"}, DestPath: "/opt/"}, extracted},
		{"zstd", Request{IsAdd: true, Sources: []string{"app.tar.zst"}, DestPath: "/opt/"}, extracted},
		{"chown applies to extracted entries", Request{IsAdd: true, Sources: []string{"app.tar.gz"}, DestPath: "/opt/", Chown: &user.Identity{UID: 7, GID: 7}},
			[]string{"opt/ 5 0755 7:7", "opt/deep/ 5 0755 0:0", "opt/deep/a/ 5 0755 0:0", "opt/deep/a/b 0 0600 7:7 =b",
				"opt/pkg/ 5 0750 7:7", "opt/pkg/bin 0 4755 7:7 =binary",
				"opt/pkg/hard 1 0000 7:7 ->opt/pkg/bin", "opt/pkg/ln 2 0777 7:7 ->bin"}},
		{"COPY never extracts", Request{Sources: []string{"app.tar.gz"}, DestPath: "/opt/"},
			[]string{"opt/ 5 0755 0:0", "opt/app.tar.gz 0 0644 0:0 =" + readFile(t, filepath.Join(dir, "app.tar.gz"))}},
		{"unpack=false", Request{IsAdd: true, Unpack: &no, Sources: []string{"app.tar"}, DestPath: "/opt/"},
			[]string{"opt/ 5 0755 0:0", "opt/app.tar 0 0644 0:0 =" + string(raw)}},
		{"not an archive", Request{IsAdd: true, Sources: []string{"notar.tar.gz"}, DestPath: "/opt/"},
			[]string{"opt/ 5 0755 0:0", "opt/notar.tar.gz 0 0644 0:0 =just text"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Src = DirFS(dir, nil)
			got, err := runCopy(t, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, strs(got)); diff != "" {
				t.Errorf("layer (-want +got):\n%s", diff)
			}
			for _, e := range got {
				if e.hdr.Name == "opt/pkg/bin" && !e.hdr.ModTime.Equal(time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC)) {
					t.Errorf("archive mtime not kept: %v", e.hdr.ModTime)
				}
			}
		})
	}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAddURL(t *testing.T) {
	lastMod := time.Date(2015, 10, 21, 7, 28, 0, 0, time.UTC)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/files/tool.sh":
			w.Header().Set("Last-Modified", lastMod.Format(http.TimeFormat))
			w.Write([]byte("#!/bin/sh\necho hi\n"))
		case "/":
			w.Write([]byte("index"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	const sum = "sha256:4f8e8ac1ae8d0fbc1c2b0a0b0e6d4d2b7b1e7d0b3b9b0d2d8f5e6c1c1b0a0b0c"
	good := sha256Hex("#!/bin/sh\necho hi\n")
	tests := []struct {
		name    string
		req     Request
		want    []string
		wantErr string
	}{
		{"into dir", Request{Sources: []string{srv.URL + "/files/tool.sh"}, DestPath: "/usr/bin/"},
			[]string{"usr/ 5 0755 0:0", "usr/bin/ 5 0755 0:0", "usr/bin/tool.sh 0 0600 0:0 =#!/bin/sh\necho hi\n"}, ""},
		{"to a file name", Request{Sources: []string{srv.URL + "/files/tool.sh"}, DestPath: "/t"},
			[]string{"t 0 0600 0:0 =#!/bin/sh\necho hi\n"}, ""},
		{"unnamed", Request{Sources: []string{srv.URL + "/"}, DestPath: "/d/"},
			[]string{"d/ 5 0755 0:0", "d/__unnamed__ 0 0600 0:0 =index"}, ""},
		{"checksum ok", Request{Sources: []string{srv.URL + "/files/tool.sh"}, DestPath: "/t", Checksum: "sha256:" + good},
			[]string{"t 0 0600 0:0 =#!/bin/sh\necho hi\n"}, ""},
		{"checksum mismatch", Request{Sources: []string{srv.URL + "/files/tool.sh"}, DestPath: "/t", Checksum: sum}, nil, "digest mismatch"},
		{"404", Request{Sources: []string{srv.URL + "/nope"}, DestPath: "/t"}, nil, "invalid response status 404"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.IsAdd = true
			tc.req.Src = DirFS(t.TempDir(), nil)
			tc.req.Client = srv.Client()
			tmp := t.TempDir()
			tc.req.TmpDir = tmp
			got, err := runCopy(t, tc.req)
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("download files left behind: %v", left)
			}
			if tc.wantErr != "" {
				mustContain(t, err, tc.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, strs(got)); diff != "" {
				t.Errorf("layer (-want +got):\n%s", diff)
			}
			last := got[len(got)-1].hdr
			if tc.name != "unnamed" && !last.ModTime.Equal(lastMod) {
				t.Errorf("mtime %v, want Last-Modified %v", last.ModTime, lastMod)
			}
		})
	}
}

// ADD of a local archive keeps its entries' extended attributes (a file
// capability, as setcap writes it), as BuildKit does.
func TestAddArchiveKeepsXattrs(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	const capValue = "\x01\x00\x00\x02\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"
	hdr := &tar.Header{Name: "usr/bin/newuidmap", Typeflag: tar.TypeReg, Mode: 0o755, Size: 3, Format: tar.FormatPAX,
		PAXRecords: map[string]string{"SCHILY.xattr.security.capability": capValue, "SCHILY.xattr.user.note": "x"}}
	if err := tw.WriteHeader(hdr); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte("bin")); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "caps.tar"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := runCopy(t, Request{IsAdd: true, Src: DirFS(dir, nil), Sources: []string{"caps.tar"}, DestPath: "/"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range got {
		if e.hdr.Name != "usr/bin/newuidmap" {
			continue
		}
		if e.hdr.PAXRecords["SCHILY.xattr.security.capability"] != capValue || e.hdr.PAXRecords["SCHILY.xattr.user.note"] != "x" {
			t.Errorf("xattrs of the extracted file: %q", e.hdr.PAXRecords)
		}
		return
	}
	t.Fatalf("no usr/bin/newuidmap in %v", strs(got))
}
