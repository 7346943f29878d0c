package filecopy

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/patternmatcher"

	"github.com/builderdev/builder/parser"
)

// FuzzDockerignore reads arbitrary .dockerignore files with Docker's rules
// and copies a fixed context through them: it never panics or hangs, and
// exactly the files moby's matcher keeps (a file is kept unless it or a
// parent matches, "!" exceptions included) reach the layer.
func FuzzDockerignore(f *testing.F) {
	for _, s := range []string{
		"*", "a", "a/*\n!a/keep", "**/*.go", "!*", "#c\n/a/b/../c", "a/**/x\n!a/b/**", "[a-", `\*`, "dir\n!dir/sub/f",
		"*\n!dir\n", "**", "./a", "../x", "a?", "!", "dir/sub\n!dir/sub/f\n**/f",
	} {
		f.Add(s)
	}
	root := f.TempDir()
	files := []string{"a", "b.go", "dir/f", "dir/sub/f", "dir/sub/g.go", "x/y/z", "a b", "keep"}
	for _, name := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			f.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(name), 0o644); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, ignore string) {
		pats, err := parser.ReadDockerignore(strings.NewReader(ignore))
		if err != nil {
			return
		}
		pm, err := patternmatcher.New(pats)
		if err != nil {
			// builder must refuse what the matcher cannot parse
			var buf bytes.Buffer
			req := Request{Src: DirFS(root, pats), Sources: []string{"."}, DestPath: "/", ModTime: stepTime, TmpDir: t.TempDir()}
			if Copy(context.Background(), req, &buf) == nil {
				t.Fatalf("patterns %q do not parse, but the copy succeeded", pats)
			}
			return
		}
		var buf bytes.Buffer
		req := Request{Src: DirFS(root, pats), Sources: []string{"."}, DestPath: "/", ModTime: stepTime, TmpDir: t.TempDir()}
		if err := Copy(context.Background(), req, &buf); err != nil {
			if strings.Contains(err.Error(), "panic") {
				t.Fatal(err)
			}
			return // e.g. everything ignored: "no source files"
		}
		got := map[string]bool{}
		for _, e := range readTar(t, buf.Bytes()) {
			got[e.hdr.Name] = true
		}
		for _, name := range files {
			excluded, err := pm.MatchesOrParentMatches(name)
			if err != nil {
				return
			}
			if got[name] == excluded {
				t.Errorf("patterns %q: %s in the layer = %v, moby's matcher excludes it = %v", pats, name, got[name], excluded)
			}
		}
	})
}
