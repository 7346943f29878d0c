package filecopy

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDirFSDockerignore(t *testing.T) {
	dir := mkTree(t,
		f("Dockerfile", 0o644, "FROM scratch"), f(".dockerignore", 0o644, "x"),
		f("README.md", 0o644, "r"), f("NOTES.md", 0o644, "n"), f("main.go", 0o644, "m"),
		d("build", 0o755), f("build/out", 0o644, "o"),
		d("logs", 0o755), f("logs/a.log", 0o644, "a"), d("logs/keep", 0o755),
		f("logs/keep/important.log", 0o644, "i"), f("logs/keep/other.log", 0o644, "x"),
		d("docs", 0o755), f("docs/x.md", 0o644, "x"),
	)
	tests := []struct {
		name     string
		patterns []string
		want     []string
	}{
		{"no patterns", nil, []string{".dockerignore", "Dockerfile", "NOTES.md", "README.md", "build/", "build/out",
			"docs/", "docs/x.md", "logs/", "logs/a.log", "logs/keep/", "logs/keep/important.log", "logs/keep/other.log", "main.go"}},
		{"exceptions and excluded dirs with re-included files",
			[]string{"*.md", "!README.md", "build", "logs", "!logs/keep/important.log", "Dockerfile", ".dockerignore"},
			[]string{"README.md", "docs/", "docs/x.md", "logs/", "logs/keep/", "logs/keep/important.log", "main.go"}},
		{"double star", []string{"**/*.md", "**/*.log"},
			[]string{".dockerignore", "Dockerfile", "build/", "build/out", "docs/", "logs/", "logs/keep/", "main.go"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runCopy(t, Request{Src: DirFS(dir, tc.patterns), Sources: []string{"."}, DestPath: "/"})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range got {
				names = append(names, e.hdr.Name)
			}
			if diff := cmp.Diff(tc.want, names); diff != "" {
				t.Errorf("copied names (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("ignored literal source is not found", func(t *testing.T) {
		_, err := runCopy(t, Request{Src: DirFS(dir, []string{"build"}), Sources: []string{"build/out"}, DestPath: "/"})
		mustContain(t, err, "file not found in build context: build/out")
	})
}

func TestDirFSConfined(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := mkTree(t, f("ok", 0o644, "ok"), l("out", outside), l("outfile", filepath.Join(outside, "secret")),
		l("rel", "../../../../../../../"+outside))
	fsys := DirFS(dir, nil)
	for _, name := range []string{"../secret", "out/secret", "outfile", "rel/secret", "/" + outside + "/secret"} {
		t.Run(name, func(t *testing.T) {
			rc, err := fsys.Open(name)
			if err == nil {
				defer rc.Close()
				var b bytes.Buffer
				b.ReadFrom(rc)
				if strings.Contains(b.String(), "SECRET") {
					t.Fatalf("Open(%q) read a file outside the root", name)
				}
			}
			if fi, err := fsys.Lstat(name); err == nil && fi.Mode().IsRegular() && fi.Size() == 6 {
				t.Fatalf("Lstat(%q) reached outside the root", name)
			}
		})
	}
	t.Run("copy of links to outside", func(t *testing.T) {
		var buf bytes.Buffer
		err := Copy(context.Background(), Request{Src: fsys, Sources: []string{"out*", "rel"}, DestPath: "/d/", ModTime: stepTime, TmpDir: t.TempDir()}, &buf)
		if err == nil && bytes.Contains(buf.Bytes(), []byte("SECRET")) {
			t.Fatal("copied a host file")
		}
	})
	if _, err := fsys.Lstat("."); err != nil {
		t.Fatalf("Lstat(.): %v", err)
	}
	ents, err := fsys.ReadDir(".")
	if err != nil || len(ents) != 4 {
		t.Fatalf("ReadDir(.) = %d entries, %v", len(ents), err)
	}
	if _, err := fsys.Lstat("missing"); !errorsIsNotExist(err) {
		t.Fatalf("Lstat(missing) = %v, want not exist", err)
	}
}

func errorsIsNotExist(err error) bool {
	return err != nil && (os.IsNotExist(err) || strings.Contains(err.Error(), fs.ErrNotExist.Error()))
}
