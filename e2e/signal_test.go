package e2e_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/builderdev/builder/internal/testenv"
)

// TestInterruptMessage sends SIGINT (Ctrl-C) or SIGTERM to the binary
// during a RUN sleep 100: it ends with "ERROR: interrupted" naming the
// running step, exit status 130, the step marked CANCELED, no "context
// canceled" from inside, and nothing left behind.
func TestInterruptMessage(t *testing.T) {
	tests := []struct {
		level string
		sig   syscall.Signal
	}{
		{"namespace", syscall.SIGINT},
		{"namespace", syscall.SIGTERM},
		{"chroot", syscall.SIGINT},
	}
	for _, tt := range tests {
		t.Run(tt.level+"/"+tt.sig.String(), func(t *testing.T) {
			testenv.LeakCheck(t)
			root := newRoot(t)
			ctxDir := filepath.Join(t.TempDir(), "ctx")
			// MARK is in the step's environment: it finds the step's
			// processes, in whatever namespace they run.
			writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM busybox\nARG MARK\nRUN echo started; sleep 100\n")
			mark := "MARK=" + root
			cmd := exec.Command(builderBin, "--root", root, "build", "--progress", "plain", "--isolation", tt.level,
				"--build-arg", mark, "--build-context", busyboxContext(t), ctxDir)
			cmd.Env = builderEnv(t, nil)
			stderr := startUntil(t, cmd, " started\n")
			if len(processesWithEnv(mark)) == 0 {
				t.Fatalf("the running step's processes are not found by %s", mark)
			}
			start := time.Now()
			if err := cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			if took := time.Since(start); took > 10*time.Second {
				t.Errorf("interrupted build took %s to stop", took)
			}
			out := stderr.String()
			if code := cmd.ProcessState.ExitCode(); code != 130 {
				t.Errorf("exit %d (%v), want 130:\n%s", code, err, out)
			}
			if !strings.HasSuffix(out, "\nERROR: interrupted while running #2 [2/2] RUN echo started; sleep 100\n") {
				t.Errorf("last line does not name the running step:\n%s", out)
			}
			if !strings.Contains(out, "\n#2 CANCELED\n") || strings.Contains(out, "#2 ERROR") {
				t.Errorf("the step is not marked CANCELED:\n%s", out)
			}
			if strings.Contains(out, "context canceled") {
				t.Errorf("a cancel from inside is shown:\n%s", out)
			}
			if m := testenv.MountsUnder(root); len(m) > 0 {
				t.Errorf("mounts left under the store: %v", m)
			}
			if p := testenv.ProcessesUnder(root); len(p) > 0 {
				t.Errorf("processes left under the store: %v", p)
			}
			if p := processesWithEnv(mark); len(p) > 0 {
				t.Errorf("the step's processes are left: %v", p)
			}
			left, _ := filepath.Glob(filepath.Join(root, "tmp", "*"))
			for _, l := range left {
				if !strings.Contains(filepath.Base(l), "lease") {
					t.Errorf("tmp entry left behind: %s", l)
				}
			}
		})
	}
}

// processesWithEnv lists the pids whose environment holds kv.
func processesWithEnv(kv string) []string {
	var out []string
	files, _ := filepath.Glob("/proc/[0-9]*/environ")
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, e := range strings.Split(string(data), "\x00") {
			if e == kv {
				out = append(out, filepath.Base(filepath.Dir(f)))
				break
			}
		}
	}
	return out
}
