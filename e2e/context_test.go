package e2e_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
)

// A RUN bind mount of the build context shows what COPY sees (no file
// .dockerignore excludes), and its key follows what it shows: an ignored
// file's change runs nothing, a mounted file's change runs the step.
func TestBindMountSeesTheContextCopySees(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), `FROM busybox
RUN --mount=type=bind,target=/ctx find /ctx | sort > /seen && cat /ctx/app/main.txt > /main && stat -c %u:%g /ctx/app/main.txt > /owner
`)
	writeFile(t, filepath.Join(ctxDir, ".dockerignore"), "*.log\nsecret\n!keep.log\n")
	writeFile(t, filepath.Join(ctxDir, "app/main.txt"), "main\n")
	writeFile(t, filepath.Join(ctxDir, "a.log"), "ignored\n")
	writeFile(t, filepath.Join(ctxDir, "keep.log"), "kept\n")
	writeFile(t, filepath.Join(ctxDir, "secret/key"), "s3cr3t\n")
	// docker and buildx send a context with every owner 0:0.
	if err := os.Chown(filepath.Join(ctxDir, "app/main.txt"), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	bb := busyboxContext(t)
	build := func() (result, string) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "out")
		r := mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", bb,
			"-o", "type=local,dest="+out, ctxDir)
		return r, out
	}

	r, out := build()
	seen, err := os.ReadFile(filepath.Join(out, "seen"))
	if err != nil {
		t.Fatal(err)
	}
	want := "/ctx\n/ctx/.dockerignore\n/ctx/Dockerfile\n/ctx/app\n/ctx/app/main.txt\n/ctx/keep.log\n"
	if string(seen) != want {
		t.Errorf("the bind mount shows:\n%s\nwant (no a.log, no secret/):\n%s", seen, want)
	}
	if owner, err := os.ReadFile(filepath.Join(out, "owner")); err != nil || string(owner) != "0:0\n" {
		t.Errorf("a context file owned 1000:1000 shows as %q (%v) in the mount, want 0:0", owner, err)
	}
	if got := ranSteps(r); len(got) != 1 {
		t.Fatalf("cold build ran %q, want the RUN\n%s", got, r.stderr)
	}

	writeFile(t, filepath.Join(ctxDir, "a.log"), "ignored, changed\n")
	writeFile(t, filepath.Join(ctxDir, "secret/key"), "other\n")
	if r, _ = build(); len(ranSteps(r)) != 0 {
		t.Errorf("changing ignored files ran %q, want everything cached\n%s", ranSteps(r), r.stderr)
	}

	writeFile(t, filepath.Join(ctxDir, "app/main.txt"), "main 2\n")
	r, out = build()
	if got := ranSteps(r); len(got) != 1 || !strings.Contains(got[0], "RUN find /ctx") {
		t.Errorf("changing a mounted file ran %q, want the RUN\n%s", got, r.stderr)
	}
	if data, err := os.ReadFile(filepath.Join(out, "main")); err != nil || string(data) != "main 2\n" {
		t.Errorf("/main = %q, %v; want the changed file", data, err)
	}
}

// A bind mount of a file .dockerignore excludes fails as a missing file
// does, naming the Dockerfile line.
func TestBindMountOfIgnoredFileFails(t *testing.T) {
	testenv.LeakCheck(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM busybox\nRUN --mount=type=bind,source=secret.txt,target=/s cat /s\n")
	writeFile(t, filepath.Join(ctxDir, ".dockerignore"), "secret.txt\n")
	writeFile(t, filepath.Join(ctxDir, "secret.txt"), "s3cr3t\n")
	r := runBuilder(t, runOpts{}, "--root", newRoot(t), "build", "--progress", "plain", "--build-context", busyboxContext(t), ctxDir)
	if r.code == 0 || !strings.Contains(r.stderr, "Dockerfile:2") || !strings.Contains(r.stderr, "secret.txt: not found") {
		t.Errorf("want a failure at Dockerfile:2 saying secret.txt is not found:\n%s", r)
	}
	if strings.Contains(r.stderr+r.stdout, "s3cr3t") {
		t.Errorf("the ignored file's content was shown:\n%s", r)
	}
}

// A local --build-context NAME=DIR is keyed by its content, not its path:
// the same files at another path are a cache hit, other content a miss.
func TestNamedLocalContextKeyedByContent(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), `FROM busybox
COPY --from=lib f.txt /f.txt
RUN --mount=type=bind,from=lib,target=/lib cat /lib/f.txt > /g
`)
	one, two := filepath.Join(t.TempDir(), "one"), filepath.Join(t.TempDir(), "two")
	writeFile(t, filepath.Join(one, "f.txt"), "lib\n")
	writeFile(t, filepath.Join(two, "f.txt"), "lib\n")
	bb := busyboxContext(t)
	build := func(lib string) result {
		t.Helper()
		return mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", bb,
			"--build-context", "lib="+lib, ctxDir)
	}
	if got := ranSteps(build(one)); len(got) != 2 {
		t.Fatalf("cold build ran %q, want COPY and RUN", got)
	}
	r := build(two)
	if ran, cached := ranCached(t, r); ran != 0 || cached != 2 {
		t.Errorf("same content at another path: %d run, %d cached; want 0 and 2\n%s", ran, cached, r.stderr)
	}
	writeFile(t, filepath.Join(two, "f.txt"), "lib 2\n")
	if got := ranSteps(build(two)); len(got) != 2 {
		t.Errorf("changed content ran %q, want COPY and RUN", got)
	}
}
