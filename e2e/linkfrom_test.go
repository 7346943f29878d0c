package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/builderdev/builder/internal/testenv"
)

// A rebuild after one file of a COPY changed extracts the COPY's new layer
// for the RUN after it by hard-linking the unchanged files from the layer
// the COPY made last: the new layer's directory shares their inodes, the
// changed file has an inode of its own, and the RUN sees every file's
// current bytes.
func TestCopyRebuildLinksUnchangedFiles(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	ctxDir := t.TempDir()
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"),
		"FROM busybox\nCOPY src /ctx/\nRUN cat /ctx/* > /all && ls /ctx | wc -l > /count\n")
	for i := 0; i < 20; i++ {
		writeFile(t, filepath.Join(ctxDir, "src", fmt.Sprintf("f%02d", i)), fmt.Sprintf("file %02d\n", i))
	}
	build := func() string {
		t.Helper()
		out := filepath.Join(t.TempDir(), "out")
		mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain",
			"--build-context", busyboxContext(t), "-o", "type=local,dest="+out, ctxDir)
		b, err := os.ReadFile(filepath.Join(out, "all"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if all := build(); !strings.Contains(all, "file 07\n") {
		t.Fatalf("cold build: /all = %q", all)
	}
	time.Sleep(50 * time.Millisecond)
	writeFile(t, filepath.Join(ctxDir, "src", "f07"), "FILE 07 CHANGED\n")
	if all := build(); !strings.Contains(all, "FILE 07 CHANGED\n") || !strings.Contains(all, "file 08\n") {
		t.Fatalf("rebuild: /all = %q", all)
	}
	// The two extracted COPY layers: the directories with a ctx/f00.
	dirs, err := filepath.Glob(filepath.Join(root, "layers", "*", "ctx", "f00"))
	if err != nil || len(dirs) != 2 {
		t.Fatalf("extracted COPY layers: %v, %v; want 2", dirs, err)
	}
	ino := func(p string) (uint64, uint64) {
		t.Helper()
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		return st.Ino, uint64(st.Nlink)
	}
	a, b := filepath.Dir(dirs[0]), filepath.Dir(dirs[1])
	for i := 0; i < 20; i++ {
		name := fmt.Sprintf("f%02d", i)
		ia, na := ino(filepath.Join(a, name))
		ib, _ := ino(filepath.Join(b, name))
		if name == "f07" {
			if ia == ib {
				t.Errorf("%s changed but shares its inode between the layers", name)
			}
			continue
		}
		if ia != ib || na != 2 {
			t.Errorf("%s unchanged: inodes %d and %d (%d links); want one inode with 2 links", name, ia, ib, na)
		}
	}
}

// COPY --from=stage followed by a step that reads the root extracts its
// layer by hard-linking the stage's files where they are the entries
// exactly (a COPY's or an image's files: mtimes of whole seconds, as layers
// record them), not by creating them; a stage whose root already holds
// those files (it is built on the source stage) gets files of its own, so
// that no inode shows at two paths of one root. A RUN's files keep their
// mtimes' nanoseconds, which a layer drops: they are created.
func TestCopyFromLinksStageFiles(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	ctxDir := t.TempDir()
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), `FROM busybox AS build
COPY --chown=1000:1000 deps /deps
RUN mkdir -p /out /ran && echo app > /out/app && echo ran > /ran/f
FROM busybox AS final
COPY --from=build /deps /app/deps
COPY --from=build /ran /app/ran
COPY --from=build /out /app
RUN cat /app/deps/a/* /app/ran/f > /all && stat -c '%u %a' /app/deps/a/f2 /app/deps/a/f3 >> /all
FROM build AS onbuild
COPY --from=build /deps /copy
RUN cat /copy/a/* > /all
`)
	for i := 1; i <= 5; i++ {
		mode := os.FileMode(0o644)
		if i == 3 {
			mode = 0o755 | os.ModeSetuid
		}
		if err := writeFileMode(filepath.Join(ctxDir, "deps", "a", fmt.Sprintf("f%d", i)), []byte(fmt.Sprintf("dep %d\n", i)), mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, target := range []string{"final", "onbuild"} {
		out := filepath.Join(t.TempDir(), "out")
		mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--target", target,
			"--build-context", busyboxContext(t), "-o", "type=local,dest="+out, ctxDir)
		b, err := os.ReadFile(filepath.Join(out, "all"))
		if err != nil {
			t.Fatal(err)
		}
		want := "dep 1\ndep 2\ndep 3\ndep 4\ndep 5\n"
		if target == "final" {
			want += "ran\n1000 644\n1000 4755\n"
		}
		if string(b) != want {
			t.Errorf("%s: /all = %q, want %q", target, b, want)
		}
	}
	inodes := func(pattern string) map[uint64]string {
		t.Helper()
		ps, err := filepath.Glob(filepath.Join(root, "layers", "*", pattern))
		if err != nil {
			t.Fatal(err)
		}
		m := map[uint64]string{}
		for _, p := range ps {
			fi, err := os.Lstat(p)
			if err != nil {
				t.Fatal(err)
			}
			m[fi.Sys().(*syscall.Stat_t).Ino] = p
		}
		return m
	}
	src, final, onbuild := inodes("deps/a/f*"), inodes("app/deps/a/f*"), inodes("copy/a/f*")
	if len(src) != 5 || len(final) != 5 || len(onbuild) != 5 {
		t.Fatalf("extracted files: %d in build's COPY layer, %d in final's COPY, %d in onbuild's; want 5 each", len(src), len(final), len(onbuild))
	}
	for ino, p := range final {
		if _, ok := src[ino]; !ok {
			t.Errorf("%s is not a link to the build stage's file", p)
		}
	}
	for ino, p := range onbuild {
		if _, ok := src[ino]; ok {
			t.Errorf("%s links the build stage's file, which its own root also holds", p)
		}
	}
	ran, copied := inodes("ran/f"), inodes("app/ran/f")
	for ino, p := range copied {
		if _, ok := ran[ino]; ok {
			t.Errorf("%s links a RUN's file, whose mtime the layer does not keep whole", p)
		}
	}
}
