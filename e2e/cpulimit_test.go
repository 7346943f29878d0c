package e2e_test

import (
	"fmt"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/builderdev/builder/internal/testenv"
)

// TestSleepingStepsDoNotWaitForCPUSlots: more independent sleeping RUN
// steps than the machine has CPUs (the size of the CPU limiter for
// hashing, compression and extraction) all run at the same time: a RUN
// step never waits for a CPU slot.
func TestSleepingStepsDoNotWaitForCPUSlots(t *testing.T) {
	testenv.LeakCheck(t)
	n := runtime.NumCPU() + 2
	var df strings.Builder
	var subs []string
	for i := 0; i < n; i++ {
		fmt.Fprintf(&df, "FROM busybox AS s%d\nRUN echo s%d-start; sleep 3; echo s%d-end\n", i, i, i)
		subs = append(subs, fmt.Sprintf("RUN echo s%d-start", i))
	}
	df.WriteString("FROM busybox\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&df, "COPY --from=s%d /etc/passwd /s%d\n", i, i)
	}
	root := newRoot(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), df.String())
	r := mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "json", "--build-context", busyboxContext(t), ctxDir)
	steps := stepsByName(t, r.stderr, subs...)
	// All processes were running at one instant: the latest first line
	// came before the earliest last line.
	var lastStart, firstEnd time.Time
	for _, s := range steps {
		if s.firstLog.After(lastStart) {
			lastStart = s.firstLog
		}
		if firstEnd.IsZero() || s.lastLog.Before(firstEnd) {
			firstEnd = s.lastLog
		}
	}
	if !lastStart.Before(firstEnd) {
		t.Errorf("%d sleeping RUN steps did not all run at once (last started %s, first ended %s):\n%s", n, lastStart, firstEnd, r.stderr)
	}
}
