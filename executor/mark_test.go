package executor_test

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/builderdev/builder/executor"
)

// TestProcessesMarked: the leftover check finds a process by this test's
// mark, and not a process with the same command line that lacks it (a
// `sleep` of another test or another run on the machine).
func TestProcessesMarked(t *testing.T) {
	mine := exec.Command("sleep", "30")
	mine.Env = []string{testPath, markEnv(t)}
	other := exec.Command("sleep", "30")
	other.Env = []string{testPath, markVar + "=someone-else"}
	for _, c := range []*exec.Cmd{mine, other} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		defer func(c *exec.Cmd) { c.Process.Kill(); c.Wait() }(c)
	}
	got := processesMarked(testMark(t), "sleep 30")
	if len(got) != 1 || !strings.HasPrefix(got[0], strconv.Itoa(mine.Process.Pid)+" ") {
		t.Errorf("processesMarked = %v, want only pid %d", got, mine.Process.Pid)
	}
}

// TestMarkReachesStepProcesses: a marked script's background processes,
// inside the step's namespaces, carry the mark, so the leftover checks
// would see them.
func TestMarkReachesStepProcesses(t *testing.T) {
	e := newExec(t)
	root := busyboxRoot(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var mu sync.Mutex
	var seen []string
	w := &callbackWriter{fn: func(p []byte) {
		if strings.Contains(string(p), "started") {
			// The background sleep may not have exec'd yet when the
			// echo is read: look for it for a while.
			var got []string
			for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
				if got = processesMarked(testMark(t), "sleep 7301"); len(got) > 0 {
					break
				}
			}
			mu.Lock()
			seen = got
			mu.Unlock()
			cancel()
		}
	}}
	_ = e.Run(ctx, executor.Spec{
		RootMounts: bindRoot(root),
		Args:       sh(marked(t, "sleep 7301 & echo started; sleep 7302")),
		Env:        []string{testPath},
		Cwd:        "/",
		Stdout:     w,
	})
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 {
		t.Errorf("marked step processes seen while it ran: %v, want the background sleep", seen)
	}
	assertNoProcesses(t, "sleep 730")
}
