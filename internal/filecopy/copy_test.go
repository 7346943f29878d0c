package filecopy

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/builderdev/builder/internal/user"
	"github.com/google/go-cmp/cmp"
)

func TestCopy(t *testing.T) {
	ctxTree := []node{
		f("a.txt", 0o644, "A"),
		f("b.txt", 0o600, "B"),
		f(".x.txt", 0o644, "X"),
		f("c.md", 0o644, "C"),
		d("dir", 0o755),
		f("dir/.hidden", 0o644, "H"),
		f("dir/run", fs.ModeSetuid|0o755, "R"),
		l("dir/link", "../a.txt"),
		d("dir/sub", 0o750),
		f("dir/sub/f", 0o644, "F"),
		f("dir/sub/g.md", 0o644, "G"),
		f("dir/sub/keep.md", 0o644, "K"),
		d("x", 0o711),
		d("x/y", 0o700),
		f("x/y/a.txt", 0o644, "XY"),
		f("x/y/b.bin", 0o644, "BIN"),
		l("toA", "a.txt"),
		l("absA", "/dir/sub/f"),
		l("escAbs", "/etc/passwd"),
		l("escRel", "../../../../../../etc/passwd"),
		l("escDir", "/etc"),
		l("escDir2", "../../../../../../etc"),
		d("hl", 0o755),
		f("hl/one", 0o644, "same"),
		h("hl/two", "hl/one"),
	}
	src := mkTree(t, ctxTree...)
	dest := mkTree(t, d("app", 0o700), f("file", 0o644, "old"), d("real", 0o755), l("lnk", "/real"), d("w", 0o755))
	if err := os.Lchown(filepath.Join(dest, "app"), 5, 6); err != nil {
		t.Fatal(err)
	}
	chown := &user.Identity{UID: 1000, GID: 1001}
	tests := []struct {
		name    string
		req     Request
		want    []string
		wantErr string
	}{
		{"file into dir", Request{Sources: []string{"a.txt"}, DestPath: "/new/"},
			[]string{"new/ 5 0755 0:0", "new/a.txt 0 0644 0:0 =A"}, ""},
		{"file to new name", Request{Sources: []string{"b.txt"}, DestPath: "/x/y.txt"},
			[]string{"x/ 5 0755 0:0", "x/y.txt 0 0600 0:0 =B"}, ""},
		{"directory copies contents, keeps links, modes, hidden", Request{Sources: []string{"dir"}, DestPath: "/new"},
			[]string{"new/ 5 0755 0:0", "new/.hidden 0 0644 0:0 =H", "new/link 2 0777 0:0 ->../a.txt",
				"new/run 0 4755 0:0 =R", "new/sub/ 5 0750 0:0", "new/sub/f 0 0644 0:0 =F",
				"new/sub/g.md 0 0644 0:0 =G", "new/sub/keep.md 0 0644 0:0 =K"}, ""},
		{"wildcard incl hidden", Request{Sources: []string{"*.txt"}, DestPath: "/d/"},
			[]string{"d/ 5 0755 0:0", "d/.x.txt 0 0644 0:0 =X", "d/a.txt 0 0644 0:0 =A", "d/b.txt 0 0600 0:0 =B"}, ""},
		{"wildcard in middle", Request{Sources: []string{"x/*/a.txt"}, DestPath: "/d/"},
			[]string{"d/ 5 0755 0:0", "d/a.txt 0 0644 0:0 =XY"}, ""},
		{"wildcard matching nothing copies nothing, not even the destination", Request{Sources: []string{"*.none"}, DestPath: "/d/"},
			[]string{}, ""},
		{"wildcards matching nothing", Request{Sources: []string{"*.none", "x/*.none"}, DestPath: "/d/"},
			[]string{}, ""},
		{"a source that matches creates the destination", Request{Sources: []string{"*.none", "c.md"}, DestPath: "/d/"},
			[]string{"d/ 5 0755 0:0", "d/c.md 0 0644 0:0 =C"}, ""},
		{"wildcard under missing dir", Request{Sources: []string{"nodir/*.sh"}, DestPath: "/d/"}, nil,
			"file not found in build context: nodir/*.sh"},
		{"several sources need dir dest", Request{Sources: []string{"a.txt", "b.txt"}, DestPath: "/d"}, nil,
			"the destination must be a directory and end with a /"},
		{"several wildcard matches need dir dest", Request{Sources: []string{"*.txt"}, DestPath: "/d"}, nil,
			"the destination must be a directory"},
		{"missing literal", Request{Sources: []string{"nope"}, DestPath: "/d/"}, nil,
			"COPY failed: file not found in build context: nope"},
		{"dotdot cannot escape", Request{Sources: []string{"../../a.txt"}, DestPath: "/"},
			[]string{"a.txt 0 0644 0:0 =A"}, ""},
		{"relative dest follows workdir", Request{Sources: []string{"a.txt"}, DestPath: "sub/", Workdir: "/w"},
			[]string{"w/ 5 0755 0:0", "w/sub/ 5 0755 0:0", "w/sub/a.txt 0 0644 0:0 =A"}, ""},
		{"dot dest is workdir", Request{Sources: []string{"a.txt"}, DestPath: ".", Workdir: "/w"},
			[]string{"w/ 5 0755 0:0", "w/a.txt 0 0644 0:0 =A"}, ""},
		{"existing dest dir copied into, its metadata kept", Request{Sources: []string{"a.txt"}, DestPath: "/app"},
			[]string{"app/ 5 0700 5:6", "app/a.txt 0 0644 0:0 =A"}, ""},
		{"symlinked dest parent resolved in root", Request{Sources: []string{"a.txt"}, DestPath: "/lnk/"},
			[]string{"real/ 5 0755 0:0", "real/a.txt 0 0644 0:0 =A"}, ""},
		{"file over existing file", Request{Sources: []string{"a.txt"}, DestPath: "/file"},
			[]string{"file 0 0644 0:0 =A"}, ""},
		{"dir onto existing file fails", Request{Sources: []string{"dir"}, DestPath: "/file"}, nil,
			"cannot copy to non-directory"},
		{"top-level symlink followed", Request{Sources: []string{"toA"}, DestPath: "/d/"},
			[]string{"d/ 5 0755 0:0", "d/toA 0 0644 0:0 =A"}, ""},
		{"absolute symlink resolved inside source", Request{Sources: []string{"absA"}, DestPath: "/d/"},
			[]string{"d/ 5 0755 0:0", "d/absA 0 0644 0:0 =F"}, ""},
		{"absolute escape", Request{Sources: []string{"escAbs"}, DestPath: "/d/"}, nil, "file not found in build context: escAbs"},
		{"relative escape", Request{Sources: []string{"escRel"}, DestPath: "/d/"}, nil, "file not found in build context: escRel"},
		{"escape through dir link", Request{Sources: []string{"escDir/passwd"}, DestPath: "/d/"}, nil, "file not found"},
		{"escape through relative dir link", Request{Sources: []string{"escDir2/passwd"}, DestPath: "/d/"}, nil, "file not found"},
		{"hard links kept within the layer", Request{Sources: []string{"hl"}, DestPath: "/h/"},
			[]string{"h/ 5 0755 0:0", "h/one 0 0644 0:0 =same", "h/two 1 0644 0:0 ->h/one"}, ""},
		{"chown and chmod", Request{Sources: []string{"dir/sub"}, DestPath: "/o/p/", Chown: chown, Chmod: "0640"},
			[]string{"o/ 5 0755 1000:1001", "o/p/ 5 0755 1000:1001", "o/p/f 0 0640 1000:1001 =F",
				"o/p/g.md 0 0640 1000:1001 =G", "o/p/keep.md 0 0640 1000:1001 =K"}, ""},
		{"chmod does not touch symlinks, applies to dirs", Request{Sources: []string{"dir"}, DestPath: "/c/", Chmod: "755"},
			[]string{"c/ 5 0755 0:0", "c/.hidden 0 0755 0:0 =H", "c/link 2 0777 0:0 ->../a.txt",
				"c/run 0 0755 0:0 =R", "c/sub/ 5 0755 0:0", "c/sub/f 0 0755 0:0 =F",
				"c/sub/g.md 0 0755 0:0 =G", "c/sub/keep.md 0 0755 0:0 =K"}, ""},
		{"symbolic chmod", Request{Sources: []string{"b.txt", "x"}, DestPath: "/s/", Chmod: "u+x,g+rX"},
			[]string{"s/ 5 0755 0:0", "s/b.txt 0 0750 0:0 =B", "s/y/ 5 0750 0:0",
				"s/y/a.txt 0 0754 0:0 =XY", "s/y/b.bin 0 0754 0:0 =BIN"}, ""},
		{"bad chmod", Request{Sources: []string{"a.txt"}, DestPath: "/", Chmod: "99999"}, nil, "invalid chmod"},
		{"exclude", Request{Sources: []string{"dir"}, DestPath: "/e/", Excludes: []string{"**/*.md", "!**/keep.md", ".hidden"}},
			[]string{"e/ 5 0755 0:0", "e/link 2 0777 0:0 ->../a.txt", "e/run 0 4755 0:0 =R",
				"e/sub/ 5 0750 0:0", "e/sub/f 0 0644 0:0 =F", "e/sub/keep.md 0 0644 0:0 =K"}, ""},
		{"exclude whole dir", Request{Sources: []string{"dir"}, DestPath: "/e/", Excludes: []string{"sub", "run"}},
			[]string{"e/ 5 0755 0:0", "e/.hidden 0 0644 0:0 =H", "e/link 2 0777 0:0 ->../a.txt"}, ""},
		{"exclude wildcard match", Request{Sources: []string{"*"}, DestPath: "/e/", Excludes: []string{"*.txt", "dir", "x", "hl", "esc*", "toA", "absA"}},
			[]string{"e/ 5 0755 0:0", "e/c.md 0 0644 0:0 =C"}, ""},
		{"parents", Request{Sources: []string{"x/y/*.txt"}, DestPath: "/p/", Parents: true},
			[]string{"p/ 5 0755 0:0", "p/x/ 5 0711 0:0", "p/x/y/ 5 0700 0:0", "p/x/y/a.txt 0 0644 0:0 =XY"}, ""},
		{"parents with pivot", Request{Sources: []string{"x/./y/a.txt"}, DestPath: "/p/", Parents: true},
			[]string{"p/ 5 0755 0:0", "p/y/ 5 0700 0:0", "p/y/a.txt 0 0644 0:0 =XY"}, ""},
		{"parents with directory", Request{Sources: []string{"x/y"}, DestPath: "/p/", Parents: true},
			[]string{"p/ 5 0755 0:0", "p/x/ 5 0711 0:0", "p/x/y/ 5 0700 0:0", "p/x/y/a.txt 0 0644 0:0 =XY", "p/x/y/b.bin 0 0644 0:0 =BIN"}, ""},
		{"heredoc", Request{Heredocs: []Heredoc{{Name: "hello", Data: "hi\n"}}, DestPath: "/etc/"},
			[]string{"etc/ 5 0755 0:0", "etc/hello 0 0644 0:0 =hi\n"}, ""},
		{"heredoc to file with chmod", Request{Heredocs: []Heredoc{{Name: "EOF", Data: "#!/bin/sh\n"}}, DestPath: "/run.sh", Chmod: "755"},
			[]string{"run.sh 0 0755 0:0 =#!/bin/sh\n"}, ""},
		{"URL in COPY", Request{Sources: []string{"http://127.0.0.1/x"}, DestPath: "/"}, nil, "source can't be a URL for COPY"},
		{"git in ADD", Request{Sources: []string{"https://github.com/o/r.git"}, DestPath: "/", IsAdd: true}, nil, "git sources are not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.req.Src = DirFS(src, nil)
			tc.req.Dest = DirFS(dest, nil)
			got, err := runCopy(t, tc.req)
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
		})
	}
}

func TestCopyNotFoundIsErrNotFound(t *testing.T) {
	src := mkTree(t, f("a", 0o644, "a"))
	_, err := runCopy(t, Request{Src: DirFS(src, nil), Sources: []string{"b"}, DestPath: "/", SrcName: "stage build"})
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("error %v is not ErrNotFound", err)
	}
	mustContain(t, err, "COPY failed: file not found in stage build: b")
}

func TestCopyMetadata(t *testing.T) {
	src := mkTree(t, d("dir", 0o755), f("dir/f", 0o644, "x"), f("owned", 0o644, "o"))
	if err := os.Lchown(filepath.Join(src, "owned"), 7, 8); err != nil {
		t.Fatal(err)
	}
	t.Run("mtimes kept, created dirs get the step time", func(t *testing.T) {
		got, err := runCopy(t, Request{Src: DirFS(src, nil), Sources: []string{"dir"}, DestPath: "/a/b/"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{"a/": stepTime.Unix(), "a/b/": stepTime.Unix(), "a/b/f": srcTime.Unix()}
		for _, e := range got {
			if e.hdr.ModTime.Unix() != want[e.hdr.Name] {
				t.Errorf("%s mtime %v, want %v", e.hdr.Name, e.hdr.ModTime, want[e.hdr.Name])
			}
			if e.hdr.Format != 0 && e.hdr.ModTime.Nanosecond() != 0 {
				t.Errorf("%s: sub-second mtime", e.hdr.Name)
			}
		}
	})
	for _, tc := range []struct {
		name string
		keep bool
		want string
	}{{"owner reset to 0:0", false, "owned 0 0644 0:0 =o"}, {"owner kept for --from", true, "owned 0 0644 7:8 =o"}} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := runCopy(t, Request{Src: DirFS(src, nil), Sources: []string{"owned"}, DestPath: "/", KeepOwner: tc.keep})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]string{tc.want}, strs(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
