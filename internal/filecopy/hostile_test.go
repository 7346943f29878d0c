package filecopy

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/builderdev/builder/internal/layer"
)

// hostileTar writes a tar of hdrs (regular files get data as content) to
// dir/x.tar.
func hostileTar(t *testing.T, dir string, data string, hdrs ...tar.Header) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range hdrs {
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(data))
		}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write([]byte(data)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "x.tar"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkLinksFollowTargets fails when a hard link of the layer comes before
// the file it names: no extractor could make it.
func checkLinksFollowTargets(t *testing.T, got []tarEntry) {
	t.Helper()
	seen := map[string]bool{}
	for _, e := range got {
		if e.hdr.Typeflag == tar.TypeLink && !seen[e.hdr.Linkname] {
			t.Errorf("hard link %s -> %s comes before its target", e.hdr.Name, e.hdr.Linkname)
		}
		seen[e.hdr.Name] = true
	}
}

func TestAddArchiveHardLinkOutsideRefused(t *testing.T) {
	base := mkTree(t, d("etc", 0o755), f("etc/passwd", 0o644, "root:x:0:0"))
	for _, tc := range []struct{ name, link string }{
		{"absolute target not in the archive", "/etc/passwd"},
		{"relative target only in the base image", "etc/passwd"},
		{"target never written", "missing"},
		{"target is a directory", "dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			hostileTar(t, dir, "x",
				tar.Header{Name: "dir/", Typeflag: tar.TypeDir, Mode: 0o755},
				tar.Header{Name: "hl", Typeflag: tar.TypeLink, Linkname: tc.link})
			_, err := runCopy(t, Request{Src: DirFS(dir, nil), Dest: DirFS(base, nil), IsAdd: true, Sources: []string{"x.tar"}, DestPath: "/"})
			mustContain(t, err, `ADD failed: extract archive: hard link "hl" to "`+tc.link+`": the target is not a file written earlier by this archive`)
		})
	}
}

func TestAddArchiveHardLinkInsideKept(t *testing.T) {
	dir := t.TempDir()
	// absolute names inside the archive are relative to the destination,
	// as in Docker's Untar; the links sort before their target
	hostileTar(t, dir, "data",
		tar.Header{Name: "z/file", Typeflag: tar.TypeReg, Mode: 0o755, Uid: 5},
		tar.Header{Name: "a/hl", Typeflag: tar.TypeLink, Linkname: "/z/file"},
		tar.Header{Name: "b/hl2", Typeflag: tar.TypeLink, Linkname: "a/hl"})
	got, err := runCopy(t, Request{Src: DirFS(dir, nil), IsAdd: true, Sources: []string{"x.tar"}, DestPath: "/opt/"})
	if err != nil {
		t.Fatal(err)
	}
	checkLinksFollowTargets(t, got)
	want := []string{"opt/ 5 0755 0:0", "opt/a/ 5 0755 0:0", "opt/a/hl 0 0755 5:0 =data",
		"opt/b/ 5 0755 0:0", "opt/b/hl2 1 0644 0:0 ->opt/a/hl", "opt/z/ 5 0755 0:0", "opt/z/file 1 0644 0:0 ->opt/a/hl"}
	if diff := cmp.Diff(want, strs(got)); diff != "" {
		t.Errorf("layer (-want +got):\n%s", diff)
	}
}

func TestAddArchiveWhiteoutsLeftOut(t *testing.T) {
	base := mkTree(t, d("etc", 0o755), f("etc/passwd", 0o644, "root"), d("var", 0o755), f("var/keep", 0o644, "k"))
	dir := t.TempDir()
	hostileTar(t, dir, "n",
		tar.Header{Name: "etc/.wh.passwd", Typeflag: tar.TypeReg},
		tar.Header{Name: "var/.wh..wh..opq", Typeflag: tar.TypeReg},
		tar.Header{Name: "var/new", Typeflag: tar.TypeReg})
	got, err := runCopy(t, Request{Src: DirFS(dir, nil), Dest: DirFS(base, nil), IsAdd: true, Sources: []string{"x.tar"}, DestPath: "/"})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range got {
		if strings.Contains(e.hdr.Name, ".wh.") {
			t.Errorf("layer holds %s: it would delete a base image file", e.hdr.Name)
		}
	}
	if len(got) == 0 || got[len(got)-1].hdr.Name != "var/new" {
		t.Errorf("layer %v, want var/new written", strs(got))
	}

	hostileTar(t, dir, "n", tar.Header{Name: "etc/.wh.", Typeflag: tar.TypeReg})
	_, err = runCopy(t, Request{Src: DirFS(dir, nil), IsAdd: true, Sources: []string{"x.tar"}, DestPath: "/"})
	mustContain(t, err, `"etc/.wh.": invalid whiteout entry`)
}

func TestAddArchiveNamesOverKernelLimits(t *testing.T) {
	deep := strings.Repeat("d/", 2100) + "f"
	for _, tc := range []struct{ name, entry, dest, want string }{
		{"name over 4 KiB", strings.Repeat("n", 5000), "/", "name is 5000 bytes long, over the kernel's limit of 4095"},
		{"component over 255", strings.Repeat("c", 300) + "/f", "/", "path component is 300 bytes long"},
		{"deep under the destination", deep[:3999], "/" + strings.Repeat("p", 200) + "/", "over the kernel's limit of 4095"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			hostileTar(t, dir, "x", tar.Header{Name: tc.entry, Typeflag: tar.TypeReg, Format: tar.FormatPAX})
			_, err := runCopy(t, Request{Src: DirFS(dir, nil), IsAdd: true, Sources: []string{"x.tar"}, DestPath: tc.dest})
			mustContain(t, err, tc.want)
		})
	}
}

func TestAddArchiveBombStops(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	const size = 64 << 20
	if err := tw.WriteHeader(&tar.Header{Name: "zeros", Typeflag: tar.TypeReg, Mode: 0o644, Size: size}); err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for i := 0; i < size/len(chunk); i++ {
		if _, err := tw.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bomb.tar.gz"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	_, err := runCopy(t, Request{Src: DirFS(dir, nil), IsAdd: true, Sources: []string{"bomb.tar.gz"}, DestPath: "/", TmpDir: tmp, MaxExtractSize: 4 << 20})
	if !errors.Is(err, layer.ErrExtractLimit) {
		t.Fatalf("err = %v, want the extraction limit", err)
	}
	mustContain(t, err, "ADD failed: extract archive: extraction limit reached: extracting over 4194304 bytes (the limit of --max-extract-size)")
	// and without a limit the same archive extracts
	got, err := runCopy(t, Request{Src: DirFS(dir, nil), IsAdd: true, Sources: []string{"bomb.tar.gz"}, DestPath: "/", TmpDir: tmp, MaxExtractSize: -1})
	if err != nil || len(got) != 1 || len(got[0].content) != size {
		t.Fatalf("unbounded: %d entries, err %v", len(got), err)
	}
}
