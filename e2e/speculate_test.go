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

// While a stage waits for a COPY --from of a stage still running, its
// next COPY of the build context writes and extracts its layer ahead: the
// directory the RUN after it uses is in place before the slow stage ends.
// The COPY's own step then writes the same layer from the real state, and
// the RUN sees the files; a rebuild with one file changed uses its own.
func TestCopySpeculatedWhileWaiting(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	ctxDir := t.TempDir()
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), `FROM busybox AS slow
RUN echo slow-start; sleep 2; echo slow > /slow
FROM busybox
COPY --from=slow /slow /slow
COPY src /ctx/
RUN echo run-start; cat /slow /ctx/* > /all
`)
	for i := 0; i < 50; i++ {
		writeFile(t, filepath.Join(ctxDir, "src", fmt.Sprintf("f%02d", i)), fmt.Sprintf("file %02d\n", i))
	}
	build := func() (string, string) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "out")
		r := mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "json",
			"--build-context", busyboxContext(t), "-o", "type=local,dest="+out, ctxDir)
		b, err := os.ReadFile(filepath.Join(out, "all"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b), r.stderr
	}
	all, stderr := build()
	slow := stepsByName(t, stderr, "RUN echo slow-start")[0]
	if want := "slow\n" + "file 00\n"; len(all) < len(want) || all[:len(want)] != want {
		t.Fatalf("/all = %q", all)
	}
	// The COPY took the layer made ahead as its own (its files and what it
	// looked up below /ctx were the same): it did not write it again.
	reused := false
	for _, line := range strings.Split(stderr, "\n") {
		if strings.Contains(line, `"status":"phase"`) && strings.Contains(line, `"data":"speculated"`) &&
			strings.Contains(line, "COPY src /ctx/") {
			reused = true
		}
	}
	if !reused {
		t.Errorf("no speculated phase for COPY src /ctx/: the layer made ahead was not used")
	}
	dirs, err := filepath.Glob(filepath.Join(root, "layers", "*", "ctx", "f00"))
	if err != nil || len(dirs) != 1 {
		t.Fatalf("extracted COPY layers: %v, %v; want 1", dirs, err)
	}
	// The layer directory got its name (a rename sets its ctime) before
	// the slow stage's step was done.
	fi, err := os.Lstat(filepath.Dir(filepath.Dir(dirs[0])))
	if err != nil {
		t.Fatal(err)
	}
	ctime := time.Unix(fi.Sys().(*syscall.Stat_t).Ctim.Unix())
	if !ctime.Before(slow.done) {
		t.Errorf("the COPY's layer was extracted at %s, after the stage it waited for ended at %s", ctime, slow.done)
	}
	time.Sleep(50 * time.Millisecond)
	writeFile(t, filepath.Join(ctxDir, "src", "f07"), "FILE 07\n")
	if all, _ := build(); !strings.Contains(all, "FILE 07\n") || strings.Contains(all, "file 07\n") {
		t.Errorf("rebuild: /all = %q", all)
	}
}

// TestCopySpeculationNotUsedWhenRootDiffers: a speculation made before a
// COPY --from put a directory of another owner above where the COPY
// writes is not used: the COPY writes its layer from the real state,
// whose entry for that directory carries that owner.
func TestCopySpeculationNotUsedWhenRootDiffers(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	ctxDir := t.TempDir()
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), `FROM busybox AS slow
RUN sleep 2; mkdir -p /d/ctx && chown 7:8 /d/ctx
FROM busybox
COPY --from=slow /d /
COPY src /ctx/sub/
RUN stat -c %u:%g /ctx > /owner
`)
	writeFile(t, filepath.Join(ctxDir, "src", "f"), "f\n")
	out := filepath.Join(t.TempDir(), "out")
	r := mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "json",
		"--build-context", busyboxContext(t), "-o", "type=local,dest="+out, ctxDir)
	if b, err := os.ReadFile(filepath.Join(out, "owner")); err != nil || string(b) != "7:8\n" {
		t.Errorf("/ctx owner after the COPY = %q, %v; want 7:8", b, err)
	}
	if strings.Contains(r.stderr, `"data":"speculated"`) {
		t.Errorf("the speculation made against a root without /ctx was used")
	}
}
