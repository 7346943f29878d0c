package filecopy

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// copyCase runs one COPY of src's tree and compares the layer.
func copyCase(t *testing.T, src string, req Request, want []string) {
	t.Helper()
	req.Src = DirFS(src, nil)
	got, err := runCopy(t, req)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, strs(got)); diff != "" {
		t.Errorf("layer (-want +got):\n%s", diff)
	}
}

func TestWildcardSkipsNonDirectoryMatches(t *testing.T) {
	src := mkTree(t, f("Dockerfile", 0o644, "FROM x"), d("pkg", 0o755), d("pkg/a", 0o755),
		f("pkg/a/package.json", 0o644, "{}"), d("web", 0o755), f("web/package.json", 0o644, "w"))
	copyCase(t, src, Request{Sources: []string{"*/package.json"}, DestPath: "/app/"},
		[]string{"app/ 5 0755 0:0", "app/package.json 0 0644 0:0 =w"})
	copyCase(t, src, Request{Sources: []string{"*/a/package.json"}, DestPath: "/app/"},
		[]string{"app/ 5 0755 0:0", "app/package.json 0 0644 0:0 ={}"})
}

func TestParentsDoublestar(t *testing.T) {
	src := mkTree(t, f("package.json", 0o644, "root"), d("a", 0o755), d("a/b", 0o755),
		f("a/b/g.txt", 0o644, "g"), f("a/b/package.json", 0o644, "ab"), d("a/b/c", 0o755),
		f("a/b/c/h.txt", 0o644, "h"), f("a/b/c/x.md", 0o644, "x"), d("web", 0o755), f("web/package.json", 0o644, "w"))
	copyCase(t, src, Request{Sources: []string{"**/package.json"}, DestPath: "/app/", Parents: true},
		[]string{"app/ 5 0755 0:0", "app/a/ 5 0755 0:0", "app/a/b/ 5 0755 0:0", "app/a/b/package.json 0 0644 0:0 =ab",
			"app/package.json 0 0644 0:0 =root", "app/web/ 5 0755 0:0", "app/web/package.json 0 0644 0:0 =w"})
	copyCase(t, src, Request{Sources: []string{"a/b/**/*.txt"}, DestPath: "/app/", Parents: true},
		[]string{"app/ 5 0755 0:0", "app/a/ 5 0755 0:0", "app/a/b/ 5 0755 0:0", "app/a/b/c/ 5 0755 0:0",
			"app/a/b/c/h.txt 0 0644 0:0 =h", "app/a/b/g.txt 0 0644 0:0 =g"})
}

func TestParentsExcludeFromRoot(t *testing.T) {
	src := mkTree(t, d("a", 0o755), f("a/keep.txt", 0o644, "k"), f("a/skip.txt", 0o644, "s"),
		d("a/tmp", 0o755), f("a/tmp/t", 0o644, "t"), d("b", 0o755), f("b/skip.txt", 0o644, "bs"))
	copyCase(t, src, Request{Sources: []string{"a"}, DestPath: "/p/", Parents: true, Excludes: []string{"a/skip.txt", "a/tmp"}},
		[]string{"p/ 5 0755 0:0", "p/a/ 5 0755 0:0", "p/a/keep.txt 0 0644 0:0 =k"})
	copyCase(t, src, Request{Sources: []string{"*/*.txt"}, DestPath: "/p/", Parents: true, Excludes: []string{"a/skip.txt"}},
		[]string{"p/ 5 0755 0:0", "p/a/ 5 0755 0:0", "p/a/keep.txt 0 0644 0:0 =k", "p/b/ 5 0755 0:0", "p/b/skip.txt 0 0644 0:0 =bs"})
	// relative to the pivot when there is one
	copyCase(t, src, Request{Sources: []string{"a/./tmp"}, DestPath: "/p/", Parents: true, Excludes: []string{"tmp/t"}},
		[]string{"p/ 5 0755 0:0", "p/tmp/ 5 0755 0:0"})
}

func TestHardLinksAcrossSourcesAreCopies(t *testing.T) {
	src := mkTree(t, f("h1", 0o644, "same"), h("h2", "h1"), d("dir", 0o755), f("dir/a", 0o644, "x"), h("dir/b", "dir/a"))
	copyCase(t, src, Request{Sources: []string{"h1", "h2"}, DestPath: "/x/"},
		[]string{"x/ 5 0755 0:0", "x/h1 0 0644 0:0 =same", "x/h2 0 0644 0:0 =same"})
	copyCase(t, src, Request{Sources: []string{"h*"}, DestPath: "/x/"},
		[]string{"x/ 5 0755 0:0", "x/h1 0 0644 0:0 =same", "x/h2 0 0644 0:0 =same"})
	copyCase(t, src, Request{Sources: []string{"dir"}, DestPath: "/x/"},
		[]string{"x/ 5 0755 0:0", "x/a 0 0644 0:0 =x", "x/b 1 0644 0:0 ->x/a"})
}

func TestAddArchiveBreakout(t *testing.T) {
	for _, hdr := range []tar.Header{
		{Name: "../up/file", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "a/../../up", Typeflag: tar.TypeReg, Mode: 0o644},
		{Name: "ok", Typeflag: tar.TypeLink, Linkname: "../etc/passwd"},
	} {
		t.Run(hdr.Name, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			if err := tw.WriteHeader(&tar.Header{Name: "in", Typeflag: tar.TypeReg, Mode: 0o644}); err != nil {
				t.Fatal(err)
			}
			if err := tw.WriteHeader(&hdr); err != nil {
				t.Fatal(err)
			}
			if err := tw.Close(); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "x.tar"), buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := runCopy(t, Request{Src: DirFS(dir, nil), IsAdd: true, Sources: []string{"x.tar"}, DestPath: "/opt/"})
			mustContain(t, err, "path escapes the extraction root")
		})
	}
}

func TestAddChecksumNeedsURL(t *testing.T) {
	src := mkTree(t, f("a.txt", 0o644, "A"))
	sum := "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	_, err := runCopy(t, Request{Src: DirFS(src, nil), IsAdd: true, Sources: []string{"a.txt"}, DestPath: "/x/", Checksum: sum})
	mustContain(t, err, "checksum can't be specified for non-HTTP(S) sources")
}
