package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/builderdev/builder/internal/testenv"
)

var summary = regexp.MustCompile(`(\d+) steps? run, (\d+) (?:steps? )?cached`)

// ranCached reads "N steps run, M steps cached" from a build's stderr.
func ranCached(t *testing.T, r result) (int, int) {
	t.Helper()
	m := summary.FindStringSubmatch(r.stderr)
	if m == nil {
		t.Fatalf("no summary line in:\n%s", r.stderr)
	}
	ran, _ := strconv.Atoi(m[1])
	cached, _ := strconv.Atoi(m[2])
	return ran, cached
}

// ranSteps lists the steps a plain-progress build executed (not cached).
func ranSteps(r result) []string {
	var out []string
	started := map[string]string{}
	for _, line := range strings.Split(r.stderr, "\n") {
		f := strings.SplitN(line, " ", 2)
		if len(f) < 2 || !strings.HasPrefix(f[0], "#") || f[0] == "#0" {
			continue
		}
		if strings.HasPrefix(f[1], "[") {
			started[f[0]] = f[1]
		}
		if strings.HasPrefix(f[1], "DONE") && !strings.Contains(started[f[0]], "] FROM ") {
			out = append(out, started[f[0]])
		}
	}
	return out
}

const cacheDockerfile = `FROM busybox
COPY a.txt /a.txt
RUN cat /a.txt > /a.out
COPY b.txt /b.txt
ARG V=1
RUN echo "$V" > /v
`

// The cache consequences of issue "Solver and cache": only what reads a
// change runs again.
func TestCacheConsequences(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), cacheDockerfile)
	writeFile(t, filepath.Join(ctxDir, "a.txt"), "a\n")
	writeFile(t, filepath.Join(ctxDir, "b.txt"), "b\n")
	writeFile(t, filepath.Join(ctxDir, "unrelated.txt"), "u\n")
	bb := busyboxContext(t)
	build := func(extra ...string) result {
		args := append([]string{"--root", root, "build", "--progress", "plain", "--build-context", bb}, extra...)
		return mustBuild(t, runOpts{}, append(args, ctxDir)...)
	}
	expectRan := func(what string, r result, want ...string) {
		t.Helper()
		got := ranSteps(r)
		if len(got) != len(want) {
			t.Fatalf("%s: ran %q, want %d steps %q\n%s", what, got, len(want), want, r.stderr)
		}
		for i := range want {
			if !strings.Contains(got[i], want[i]) {
				t.Errorf("%s: step %d ran %q, want %q", what, i, got[i], want[i])
			}
		}
	}

	expectRan("cold", build(), "COPY a.txt", "RUN cat", "COPY b.txt", "RUN echo")
	r := build()
	expectRan("no change", r)
	if ran, cached := ranCached(t, r); ran != 0 || cached != 4 {
		t.Errorf("no change: %d run, %d cached; want 0 and 4", ran, cached)
	}

	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(filepath.Join(ctxDir, "a.txt"), later, later); err != nil {
		t.Fatal(err)
	}
	expectRan("touch", build())

	writeFile(t, filepath.Join(ctxDir, "unrelated.txt"), "changed\n")
	expectRan("unreferenced file", build())

	writeFile(t, filepath.Join(ctxDir, "b.txt"), "b2\n")
	expectRan("one file", build(), "COPY b.txt", "RUN echo")

	expectRan("build arg", build("--build-arg", "V=2"), "RUN echo")
	expectRan("build arg again", build("--build-arg", "V=2"))

	r = build("--explain", "--build-arg", "V=3")
	if !strings.Contains(r.stderr, "cache miss: changed") || !strings.Contains(r.stderr, "variable V") {
		t.Errorf("--explain does not say that V changed:\n%s", r.stderr)
	}
	writeFile(t, filepath.Join(ctxDir, "a.txt"), "a2\n")
	r = build("--explain", "--build-arg", "V=3")
	if !strings.Contains(r.stderr, "file a.txt") {
		t.Errorf("--explain does not say that files changed:\n%s", r.stderr)
	}
}

// Stages the target does not need are never resolved, even when they
// would fail; errors about stages suggest names.
func TestStagePruning(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), `FROM 127.0.0.1:1/does-not-exist:latest AS broken
RUN exit 1
FROM busybox AS Release
RUN echo ok > /ok
FROM broken
`)
	bb := busyboxContext(t)
	mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", bb, "--target", "release", ctxDir)
	r := runBuilder(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", bb, "--target", "relase", ctxDir)
	if r.code == 0 || !strings.Contains(r.stderr, "did you mean") {
		t.Errorf("misspelt target: want an error with a suggestion, got:\n%s", r)
	}
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM busybox\nCOPY --from=later /x /x\nFROM busybox AS later\n")
	r = runBuilder(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", bb, "--target", "0", ctxDir)
	if r.code == 0 || !strings.Contains(r.stderr, "Dockerfile:2") {
		t.Errorf("forward stage reference: want an error at Dockerfile:2, got:\n%s", r)
	}
}

// ONBUILD triggers of a base image run in the child and are cleared.
func TestOnbuild(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	bb := busyboxContext(t)
	base := filepath.Join(t.TempDir(), "base")
	writeFile(t, filepath.Join(base, "Dockerfile"), "FROM busybox\nONBUILD RUN echo triggered > /onbuild\nONBUILD COPY f.txt /f.txt\n")
	mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", bb, "-t", "onbase", base)
	child := filepath.Join(t.TempDir(), "child")
	writeFile(t, filepath.Join(child, "Dockerfile"), "FROM onbase\nRUN cat /onbuild /f.txt > /seen\n")
	writeFile(t, filepath.Join(child, "f.txt"), "from child context\n")
	out := filepath.Join(t.TempDir(), "out")
	mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "-o", "type=local,dest="+out, "-o", "type=oci,dest="+out+".tar", child)
	data, err := os.ReadFile(filepath.Join(out, "seen"))
	if err != nil || string(data) != "triggered\nfrom child context\n" {
		t.Errorf("/seen = %q, %v; want the trigger's output and the child's file", data, err)
	}
	cfg := testenv.SkopeoInspect(t, "oci-archive:"+out+".tar", "--config")
	if strings.Contains(fmt.Sprint(cfg), "OnBuild") {
		t.Errorf("child image keeps OnBuild triggers: %v", cfg)
	}
}

// Eight builds share one root at once.
func TestConcurrentBuilds(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	bb := busyboxContext(t)
	var wg sync.WaitGroup
	results := make([]result, 8)
	for i := range results {
		ctxDir := filepath.Join(t.TempDir(), "ctx")
		// Half the builds are identical, half differ.
		writeFile(t, filepath.Join(ctxDir, "Dockerfile"), fmt.Sprintf("FROM busybox\nRUN echo %d > /n\nCOPY f /f\n", i%2))
		writeFile(t, filepath.Join(ctxDir, "f"), "same\n")
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = runBuilder(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", bb, "-t", fmt.Sprintf("c%d", i), ctxDir)
		}()
	}
	wg.Wait()
	for i, r := range results {
		if r.code != 0 {
			t.Errorf("build %d failed:\n%s", i, r)
		}
	}
	r := runBuilder(t, runOpts{}, "--root", root, "images")
	for i := range results {
		if !strings.Contains(r.stdout, fmt.Sprintf("c%d:latest", i)) {
			t.Errorf("images does not list c%d:\n%s", i, r.stdout)
		}
	}
	testenv.SkopeoInspect(t, "oci:"+filepath.Join(root, "oci")+":c7:latest")
}

// Two builds of the same inputs on two empty roots give the same image.
func TestReproducible(t *testing.T) {
	testenv.LeakCheck(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM busybox\nCOPY f /f\nRUN echo built > /d && mkdir -p /x/y\n")
	writeFile(t, filepath.Join(ctxDir, "f"), "f\n")
	bb := busyboxContext(t)
	var ids []string
	for i := 0; i < 2; i++ {
		dir := t.TempDir()
		iid := filepath.Join(dir, "iid")
		mustBuild(t, runOpts{env: []string{"SOURCE_DATE_EPOCH=1700000000"}}, "--root", filepath.Join(dir, "root"), "build", "--progress", "plain",
			"--build-context", bb, "--metadata-file", iid, "-o", "type=oci,dest="+filepath.Join(dir, "img.tar")+",rewrite-timestamp=true", ctxDir)
		ids = append(ids, string(testenvRead(t, iid)))
		time.Sleep(1100 * time.Millisecond) // a clock tick between builds
	}
	if ids[0] != ids[1] {
		t.Errorf("two builds with SOURCE_DATE_EPOCH differ:\n%s\n%s", ids[0], ids[1])
	}
}

// --no-cache-filter re-runs only the named stages.
func TestNoCacheFilter(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), `FROM busybox AS deps
RUN echo deps > /deps
FROM busybox AS app
COPY --from=deps /deps /deps
RUN echo app > /app
`)
	bb := busyboxContext(t)
	args := []string{"--root", root, "build", "--progress", "plain", "--build-context", bb}
	mustBuild(t, runOpts{}, append(args, ctxDir)...)
	r := mustBuild(t, runOpts{}, append(args, "--no-cache-filter", "app", ctxDir)...)
	got := ranSteps(r)
	if len(got) != 2 || !strings.Contains(got[0], "[app") || !strings.Contains(got[1], "[app") {
		t.Errorf("--no-cache-filter app ran %q, want the two steps of stage app only\n%s", got, r.stderr)
	}
}
