package e2e_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/builderdev/builder/internal/testenv"
)

// Ctrl-C during a RUN stops the step, kills its processes, unmounts
// everything and exits non-zero; after kill -9 the next build cleans up.
// Either way the store stays usable.
func TestInterruptDuringRun(t *testing.T) {
	for _, sig := range []os.Signal{os.Interrupt, os.Kill} {
		t.Run(sig.String(), func(t *testing.T) { interruptDuringRun(t, sig) })
	}
}

func interruptDuringRun(t *testing.T, sig os.Signal) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM busybox\nRUN echo started && sleep 100 & sleep 100\n")
	cmd := exec.Command(builderBin, "--root", root, "build", "--progress", "plain", "--build-context", busyboxContext(t), ctxDir)
	cmd.Env = builderEnv(t, nil)
	stderr := startUntil(t, cmd, "started")
	start := time.Now()
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if err == nil {
		t.Fatalf("interrupted build exited 0:\n%s", stderr.String())
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("interrupted build took %s to stop", took)
	}
	if m := testenv.MountsUnder(root); len(m) > 0 {
		t.Errorf("mounts left under the store: %v", m)
	}
	if p := testenv.ProcessesUnder(root); len(p) > 0 {
		t.Errorf("processes left under the store: %v", p)
	}
	// The store is still usable.
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM busybox\nRUN echo ok\n")
	mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", busyboxContext(t), ctxDir)
	leftovers, _ := filepath.Glob(filepath.Join(root, "tmp", "*"))
	for _, l := range leftovers {
		if !strings.Contains(filepath.Base(l), "lease") {
			t.Errorf("tmp entry left after the next build: %s", l)
		}
	}
}

// syncBuffer is a bytes.Buffer safe to read while a process writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
