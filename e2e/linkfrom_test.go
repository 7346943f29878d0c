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
