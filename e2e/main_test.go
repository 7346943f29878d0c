package e2e_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/builderdev/builder/internal/testenv"
)

// builderBin is the binary TestMain builds; it is set once before any test
// runs and only read afterwards.
var builderBin string

// hostSecret is put into the builder's environment: RUN steps must not see it.
const hostSecret = "E2E_HOST_SECRET=leaked-from-the-host"

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	// BUILDER_E2E_BIN runs the suite against an already built binary.
	if bin := os.Getenv("BUILDER_E2E_BIN"); bin != "" {
		builderBin = bin
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "builder-e2e-bin-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: temp dir: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	builderBin = filepath.Join(dir, "builder")
	root, err := repoRoot()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: %v\n", err)
		return 1
	}
	cmd := exec.Command("go", "build", "-o", builderBin, "./cmd/builder")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/builder: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// repoRoot is the module root (the e2e dir's parent).
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("get working dir: %w", err)
	}
	root := filepath.Dir(wd)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", fmt.Errorf("find go.mod above %s: %w", wd, err)
	}
	return root, nil
}

// result is what one builder invocation did.
type result struct {
	args           []string
	stdout, stderr string
	code           int
}

func (r result) String() string {
	return fmt.Sprintf("builder %s\nexit %d\nstdout:\n%s\nstderr:\n%s",
		strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// runOpts tune one builder invocation.
type runOpts struct {
	stdin string
	env   []string // added to the builder's clean environment
}

// runBuilder runs the binary with args (10 minute limit) and returns what
// happened; it fails the test only when the binary cannot be started.
func runBuilder(t testing.TB, o runOpts, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, builderBin, args...)
	cmd.Env = builderEnv(t, o.env)
	cmd.Stdin = strings.NewReader(o.stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Its own process group, so a timeout takes everything it started.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err := cmd.Run()
	r := result{args: args, stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		t.Fatalf("run builder: %v", err)
	}
	return r
}

// builderEnv is a small, explicit environment: PATH, a private HOME and
// DOCKER_CONFIG (no host credentials), TMPDIR, and hostSecret.
func builderEnv(t testing.TB, extra []string) []string {
	t.Helper()
	home := t.TempDir()
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"DOCKER_CONFIG=" + filepath.Join(home, ".docker"),
		"TMPDIR=" + os.TempDir(),
		hostSecret,
	}
	return append(env, extra...)
}

// mustBuild runs builder and fails the test when it does not exit 0.
func mustBuild(t testing.TB, o runOpts, args ...string) result {
	t.Helper()
	r := runBuilder(t, o, args...)
	if r.code != 0 {
		t.Fatalf("build failed:\n%s", r)
	}
	return r
}

// newRoot returns a fresh store root for one test.
func newRoot(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "root")
}

// busyboxContext returns the --build-context flag that makes `FROM busybox`
// the harness's busybox image.
func busyboxContext(t testing.TB) string {
	t.Helper()
	return "busybox=oci-layout://" + testenv.BusyboxLayout(t) + ":latest"
}

func goarch() string { return runtime.GOARCH }

// startUntil starts cmd (in a process group of its own, killed when the
// test ends) and waits until its stderr shows marker: a build whose step
// is running, to be interrupted or inspected.
func startUntil(t *testing.T, cmd *exec.Cmd, marker string) *syncBuffer {
	t.Helper()
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(stderr.String(), marker) {
		if time.Now().After(deadline) {
			t.Fatalf("step did not start:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return stderr
}
