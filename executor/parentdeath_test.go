package executor_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/builderdev/builder/executor"
)

// TestHelperStep is not a test: TestParentKilled runs it in a child process
// that it then kills with SIGKILL.
func TestHelperStep(t *testing.T) {
	root := os.Getenv("BUILDER_TEST_HELPER_ROOT")
	if root == "" {
		t.Skip("helper only")
	}
	e, err := executor.New(executor.Namespace, executor.WithTmpDir(os.Getenv("BUILDER_TEST_HELPER_TMP")))
	if err != nil {
		t.Fatal(err)
	}
	_ = e.Run(context.Background(), executor.Spec{
		RootMounts: bindRoot(root),
		Args:       []string{"sh", "-c", "sleep 5557 & echo started; sleep 5556"},
		Env:        []string{testPath, markVar + "=" + os.Getenv("BUILDER_TEST_HELPER_MARK")},
		Stdout:     os.Stdout,
	})
}

// TestParentKilled checks that killing the builder (kill -9, no cleanup
// possible) still kills every process of the step.
func TestParentKilled(t *testing.T) {
	root := busyboxRoot(t)
	tmp := t.TempDir()
	cmd := exec.Command("/proc/self/exe", "-test.run=^TestHelperStep$", "-test.count=1")
	mark := testMark(t)
	cmd.Env = append(os.Environ(), "BUILDER_TEST_HELPER_ROOT="+root, "BUILDER_TEST_HELPER_TMP="+tmp, "BUILDER_TEST_HELPER_MARK="+mark)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "started" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper: %q, %v", line, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for {
		left := processesMarked(mark, "sleep 555")
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("step processes survived their builder: %v", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if m := mountsUnder(t, tmp); len(m) > 0 {
		t.Errorf("mounts visible after the builder died: %v", m)
	}
}
