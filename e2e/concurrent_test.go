package e2e_test

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
)

// 8 builds sharing their first steps run at once on one store while
// `builder prune -a -f` runs in a loop, 3 rounds: every build succeeds,
// every image runs, and fsck finds no problem at the end.
func TestConcurrentBuildsWithPrune(t *testing.T) {
	testenv.LeakCheck(t)
	const builds, rounds = 8, 3
	root := newRoot(t)
	bb := busyboxContext(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), `FROM busybox
COPY shared /shared
RUN cat /shared /shared > /doubled
ARG N
ARG ROUND
RUN echo "$N $ROUND" > /n && cat /doubled >> /n
COPY late /late
`)
	writeFile(t, filepath.Join(ctxDir, "shared"), "shared\n")
	writeFile(t, filepath.Join(ctxDir, "late"), "late\n")

	prunes, pruneFails := 0, 0
	for round := 0; round < rounds; round++ {
		stop := make(chan struct{})
		var pruneWG sync.WaitGroup
		pruneWG.Add(1)
		go func() {
			defer pruneWG.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := runBuilder(t, runOpts{}, "--root", root, "prune", "-a", "-f")
				prunes++
				if r.code != 0 {
					pruneFails++
					t.Errorf("round %d: prune failed:\n%s", round, r)
				}
			}
		}()
		var wg sync.WaitGroup
		results := make([]result, builds)
		for n := 0; n < builds; n++ {
			wg.Add(1)
			go func(n int) {
				defer wg.Done()
				results[n] = runBuilder(t, runOpts{}, "--root", root, "build", "--progress", "plain",
					"--build-context", bb, "--build-arg", fmt.Sprintf("N=%d", n),
					"--build-arg", fmt.Sprintf("ROUND=%d", round), "-t", fmt.Sprintf("c%d:latest", n), ctxDir)
			}(n)
		}
		wg.Wait()
		close(stop)
		pruneWG.Wait()
		for n, r := range results {
			if r.code != 0 {
				t.Errorf("round %d build %d failed:\n%s", round, n, r)
			}
		}
		if t.Failed() {
			t.FailNow()
		}
		layout := filepath.Join(root, "oci")
		for n := 0; n < builds; n++ {
			bundle := testenv.UmociUnpack(t, layout, fmt.Sprintf("c%d:latest", n))
			out, code := testenv.RunRunc(t, bundle, "cat", "/n")
			want := fmt.Sprintf("%d %d\nshared\nshared\n", n, round)
			if out != want || code != 0 {
				t.Errorf("round %d: image c%d prints %q exit %d, want %q", round, n, out, code, want)
			}
		}
	}
	t.Logf("%d builds in %d rounds, %d prunes alongside, %d failed", builds*rounds, rounds, prunes, pruneFails)
	if prunes < rounds {
		t.Errorf("only %d prunes ran", prunes)
	}
	checkStoreAfterFaults(t, root, "c0:latest")
}
