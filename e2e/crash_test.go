package e2e_test

import (
	"archive/tar"
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/builderdev/builder/internal/testenv"
)

// crashDockerfile exercises every kind of write a build makes: base layer
// extraction, COPY, ADD of an archive, RUN (mounts, diff), cache records,
// the tag. ROUND changes the RUN steps of each round, so that every killed
// build has work to do.
const crashDockerfile = `FROM busybox
COPY files/ /files/
ADD app.tar /opt/
ARG ROUND
RUN echo "$ROUND" > /round && cp -r /files /copy && sleep 0.2
RUN dd if=/dev/zero of=/big bs=64k count=64 2>/dev/null && echo done-$ROUND
COPY late /late
`

// crashContext writes the context of crashDockerfile.
func crashContext(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(dir, "Dockerfile"), crashDockerfile)
	for i := 0; i < 50; i++ {
		writeFile(t, filepath.Join(dir, "files", fmt.Sprintf("f%02d", i)), strings.Repeat("x", i*100))
	}
	writeFile(t, filepath.Join(dir, "late"), "late\n")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i < 20; i++ {
		data := strings.Repeat("a", 1000*i)
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("app/f%d", i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data))}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "app.tar"), buf.String())
	return dir
}

// crashSeed is BUILDER_CRASH_SEED when set (to replay a failure), else the
// clock.
func crashSeed(t *testing.T) int64 {
	if s := os.Getenv("BUILDER_CRASH_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("BUILDER_CRASH_SEED: %v", err)
		}
		return n
	}
	return time.Now().UnixNano()
}

// 30 builds are killed with SIGKILL at seeded random points; after each, the
// same build succeeds. At the end nothing is left running or mounted, du,
// images and prune work, and fsck finds no problem.
func TestKillNineThenRebuild(t *testing.T) {
	testenv.LeakCheck(t)
	const rounds = 30
	seed := crashSeed(t)
	t.Logf("seed %d (rerun with BUILDER_CRASH_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	root := newRoot(t)
	ctxDir := crashContext(t)
	bb := busyboxContext(t)
	args := func(round int) []string {
		return []string{"--root", root, "build", "--progress", "plain", "--build-context", bb,
			"--build-arg", "ROUND=" + strconv.Itoa(round), "-t", "crash:" + strconv.Itoa(round%3), ctxDir}
	}
	// Uninterrupted builds say how long a build (base image already
	// extracted) takes here.
	mustBuild(t, runOpts{}, args(-1)...)
	start := time.Now()
	mustBuild(t, runOpts{}, args(-2)...)
	full := time.Since(start)
	t.Logf("an uninterrupted build takes %v", full.Round(time.Millisecond))

	killedMidway := 0
	for i := 0; i < rounds; i++ {
		delay := time.Duration(rng.Int63n(int64(full)))
		cmd := exec.Command(builderBin, args(i)...)
		cmd.Env = builderEnv(t, nil)
		var stderr syncBuffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(delay)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		err := cmd.Wait()
		if err != nil {
			killedMidway++
		}
		t.Logf("round %d: killed after %v (%v)", i, delay.Round(time.Millisecond), err)
		r := runBuilder(t, runOpts{}, args(i)...)
		if r.code != 0 {
			t.Fatalf("round %d (seed %d, delay %v): the build after kill -9 failed:\n%s", i, seed, delay, r)
		}
		if !strings.Contains(r.stderr, "done-"+strconv.Itoa(i)) && !strings.Contains(r.stderr, "CACHED") {
			t.Errorf("round %d: the rebuild neither ran nor reused the last RUN:\n%s", i, r.stderr)
		}
	}
	t.Logf("%d of %d builds were killed before they finished", killedMidway, rounds)
	if killedMidway < rounds/2 {
		t.Errorf("only %d of %d kills landed during a build", killedMidway, rounds)
	}
	checkStoreAfterFaults(t, root, "crash:0")
}

// checkStoreAfterFaults checks that nothing of the builds runs or is
// mounted, fsck finds no problem, du, images and prune -a work and the
// image tag still runs afterwards.
func checkStoreAfterFaults(t *testing.T, root, tag string) {
	t.Helper()
	if m := testenv.MountsUnder(root); len(m) > 0 {
		t.Errorf("mounts left under the store: %v", m)
	}
	if p := testenv.ProcessesUnder(root); len(p) > 0 {
		t.Errorf("processes left under the store: %v", p)
	}
	fsck := runBuilder(t, runOpts{}, "--root", root, "fsck")
	if fsck.code != 0 || !strings.Contains(fsck.stdout, ": 0 problems") {
		t.Errorf("fsck:\n%s", fsck)
	}
	t.Logf("fsck: %s", strings.TrimSpace(fsck.stdout))
	for _, args := range [][]string{{"du"}, {"images"}} {
		if r := runBuilder(t, runOpts{}, append([]string{"--root", root}, args...)...); r.code != 0 || r.stdout == "" {
			t.Errorf("%s", r)
		}
	}
	images := mustBuild(t, runOpts{}, "--root", root, "images")
	repo, tg, _ := strings.Cut(tag, ":")
	if !listsImage(images.stdout, repo, tg) {
		t.Errorf("images does not list %s:\n%s", tag, images.stdout)
	}
	mustBuild(t, runOpts{}, "--root", root, "prune", "-a", "-f")
	bundle := testenv.UmociUnpack(t, filepath.Join(root, "oci"), tag)
	out, code := testenv.RunRunc(t, bundle, "cat", "/late")
	if out != "late\n" || code != 0 {
		t.Errorf("running %s after prune: %q exit %d", tag, out, code)
	}
	if r := runBuilder(t, runOpts{}, "--root", root, "fsck"); r.code != 0 || !strings.Contains(r.stdout, ": 0 problems") {
		t.Errorf("fsck after prune:\n%s", r)
	}
}
