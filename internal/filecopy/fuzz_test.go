package filecopy

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzSelect feeds arbitrary source patterns and destinations to Copy over a
// source tree full of links that point outside it: whatever it selects, no
// byte from outside the source root may reach the layer, and no layer name
// may climb out of the root.
func FuzzSelect(f *testing.F) {
	for _, s := range []string{"*", "a/*", "../*", "esc/*", "esc", "l*/*", "[a-z]*/../../*", "a/./b", "**", "a/[", `\*`, "/../../etc/*", "up/up/*"} {
		f.Add(s, "/d/")
	}
	f.Add("*", "../../x")
	outside := f.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("SECRET-OUTSIDE"), 0o644); err != nil {
		f.Fatal(err)
	}
	root := f.TempDir()
	for _, m := range []struct{ name, target string }{
		{"esc", outside}, {"escfile", filepath.Join(outside, "secret")},
		{"up", "../../../../../.."}, {"a/up", "../.."}, {"a/loop", "loop2"}, {"a/loop2", "loop"},
	} {
		os.MkdirAll(filepath.Join(root, filepath.Dir(m.name)), 0o755)
		if err := os.Symlink(m.target, filepath.Join(root, m.name)); err != nil {
			f.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(root, "a/b"), 0o755)
	os.WriteFile(filepath.Join(root, "a/b/file"), []byte("inside"), 0o644)
	f.Fuzz(func(t *testing.T, src, dest string) {
		var buf bytes.Buffer
		req := Request{Src: DirFS(root, nil), Sources: []string{src}, DestPath: dest, ModTime: stepTime, TmpDir: t.TempDir(), Parents: strings.Contains(src, "/./")}
		if err := Copy(context.Background(), req, &buf); err != nil {
			return
		}
		if bytes.Contains(buf.Bytes(), []byte("SECRET-OUTSIDE")) {
			t.Fatalf("source %q copied a file from outside the root", src)
		}
		for _, e := range readTar(t, buf.Bytes()) {
			n := e.hdr.Name
			if strings.HasPrefix(n, "/") || n == ".." || strings.HasPrefix(n, "../") || strings.Contains(n, "/../") {
				t.Fatalf("source %q produced name %q", src, n)
			}
		}
	})
}
