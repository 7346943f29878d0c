package e2e_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// isolationLevels are the levels a root test machine runs RUN steps at.
var isolationLevels = []string{"namespace", "chroot"}

// TestRunOutputOrder checks that a failed RUN's output, in the progress
// and in the error's "last output:" block, keeps the order the step wrote
// it in across stdout and stderr, and ends with the step's last line; 20
// builds at each isolation level, since two pipes get it right by chance.
func TestRunOutputOrder(t *testing.T) {
	for _, level := range isolationLevels {
		t.Run(level, func(t *testing.T) {
			ctxDir := t.TempDir()
			writeFile(t, filepath.Join(ctxDir, "Dockerfile"),
				"FROM busybox\nRUN echo out1; echo err1 >&2; echo out2; echo err2 >&2; exit 3\n")
			root := newRoot(t)
			logLine := regexp.MustCompile(`(?m)^#\d+ \d+\.\d+ (\S+)$`)
			for i := range 20 {
				r := runBuilder(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--isolation", level,
					"--build-context", busyboxContext(t), ctxDir)
				if r.code != 1 {
					t.Fatalf("build %d: exit %d, want 1:\n%s", i, r.code, r)
				}
				var logged []string
				for _, m := range logLine.FindAllStringSubmatch(r.stderr, -1) {
					logged = append(logged, m[1])
				}
				if got := strings.Join(logged, " "); got != "out1 err1 out2 err2" {
					t.Fatalf("build %d: progress shows %q, want the order written:\n%s", i, got, r.stderr)
				}
				want := "exit code: 3\n  last output:\n    out1\n    err1\n    out2\n    err2\n"
				if !strings.Contains(r.stderr, want) {
					t.Fatalf("build %d: error lacks %q:\n%s", i, want, r.stderr)
				}
			}
		})
	}
}

// TestRunHasNoTerminal starts builder on a pseudo terminal (its stdin and
// controlling terminal): a step still sees no terminal at all.
func TestRunHasNoTerminal(t *testing.T) {
	for _, level := range isolationLevels {
		t.Run(level, func(t *testing.T) {
			ctxDir := t.TempDir()
			writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM busybox\n"+
				"RUN if (exec 3</dev/tty) 2>/dev/null; then echo STEP-HAS-TTY; else echo STEP-NO-TTY; fi; "+
				"[ -t 0 ] && echo STDIN-TTY; [ -t 1 ] && echo STDOUT-TTY; [ -t 2 ] && echo STDERR-TTY; true\n")
			pts := openPTY(t)
			cmd := exec.Command(builderBin, "--root", newRoot(t), "build", "--progress", "plain", "--isolation", level,
				"--build-context", busyboxContext(t), ctxDir)
			cmd.Env = builderEnv(t, nil)
			cmd.Stdin = pts
			stderr := &syncBuffer{}
			cmd.Stdout, cmd.Stderr = stderr, stderr
			cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
			if err := cmd.Run(); err != nil {
				t.Fatalf("build: %v\n%s", err, stderr.String())
			}
			out := stderr.String()
			var logged []string
			for _, m := range regexp.MustCompile(`(?m)^#\d+ \d+\.\d+ (.*)$`).FindAllStringSubmatch(out, -1) {
				logged = append(logged, m[1])
			}
			if got := strings.Join(logged, " "); got != "STEP-NO-TTY" {
				t.Errorf("the step printed %q, want STEP-NO-TTY alone:\n%s", got, out)
			}
		})
	}
}

// openPTY opens a pseudo terminal pair and returns the terminal end.
func openPTY(t *testing.T) *os.File {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo terminals here: %v", err)
	}
	t.Cleanup(func() { ptmx.Close() })
	if err := unix.IoctlSetPointerInt(int(ptmx.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(ptmx.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	pts, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	t.Cleanup(func() { pts.Close() })
	return pts
}

// TestExitStatus checks that the exit status tells the cause: 1 for a
// failed build (with the RUN's exit code in the message), 2 for bad usage.
func TestExitStatus(t *testing.T) {
	ctxDir := t.TempDir()
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM busybox\nRUN exit 3\n")
	root := newRoot(t)
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"failed RUN", []string{"build", "--build-context", busyboxContext(t), ctxDir}, 1,
			`ERROR: Dockerfile:2: RUN exit 3: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3`},
		{"missing context", []string{"build", filepath.Join(ctxDir, "nope")}, 1, "no such directory"},
		{"unknown flag", []string{"build", "--bogus", ctxDir}, 2, "unknown flag: --bogus"},
		{"bad flag value", []string{"build", "--progress", "fancy", ctxDir}, 2, `invalid --progress "fancy"`},
		{"bad output", []string{"build", "-o", "type=nope,dest=x", ctxDir}, 2, `unknown type "nope"`},
		{"no context", []string{"build"}, 2, "requires exactly 1 argument"},
		{"two contexts", []string{"build", ctxDir, ctxDir}, 2, "requires exactly 1 argument"},
		{"unknown command", []string{"bild", ctxDir}, 2, `unknown command "bild"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runBuilder(t, runOpts{}, append([]string{"--root", root}, tt.args...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("exit %d, want %d with %q:\n%s", r.code, tt.code, tt.want, r)
			}
		})
	}
}

// TestFailedStepMarked checks that the step that failed is the one marked
// ERROR and that a sibling stopped because of it is CANCELED, in plain
// progress.
func TestFailedStepMarked(t *testing.T) {
	ctxDir := t.TempDir()
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM busybox AS slow\nRUN echo slow-started; sleep 60\n"+
		"FROM busybox AS bad\nRUN sleep 2; exit 3\n"+
		"FROM busybox\nCOPY --from=slow /etc/passwd /a\nCOPY --from=bad /etc/passwd /b\n")
	// --jobs 4: both RUN steps run at once, whatever the number of CPUs.
	r := runBuilder(t, runOpts{}, "--root", newRoot(t), "build", "--progress", "plain", "--jobs", "4",
		"--build-context", busyboxContext(t), ctxDir)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", r.code, r)
	}
	slow := stepNumber(t, r.stderr, "[slow 2/2] RUN echo slow-started; sleep 60")
	bad := stepNumber(t, r.stderr, "[bad 2/2] RUN sleep 2; exit 3")
	if !strings.Contains(r.stderr, "\n"+bad+" ERROR: process \"/bin/sh -c sleep 2; exit 3\" did not complete successfully: exit code: 3\n") {
		t.Errorf("the failed step %s is not marked ERROR:\n%s", bad, r.stderr)
	}
	if !strings.Contains(r.stderr, "\n"+slow+" CANCELED\n") || strings.Contains(r.stderr, "\n"+slow+" ERROR") {
		t.Errorf("the cancelled sibling %s is not marked CANCELED (only):\n%s", slow, r.stderr)
	}
	if n := strings.Count(r.stderr, " ERROR: "); n != 1 {
		t.Errorf("%d steps marked ERROR, want 1:\n%s", n, r.stderr)
	}
	if strings.Contains(r.stderr, "context canceled") {
		t.Errorf("the output shows a cancel from inside:\n%s", r.stderr)
	}
}

// TestFailedCopyIsAStep checks that a COPY whose source is missing (or a
// RUN whose bind mount's is) shows as its step, marked ERROR, not only in
// the final line.
func TestFailedCopyIsAStep(t *testing.T) {
	tests := []struct {
		name, dockerfile, step string
	}{
		{"copy", "FROM busybox\nCOPY missing.txt /\nRUN true\n", "[2/3] COPY missing.txt /"},
		{"run bind mount", "FROM busybox\nRUN --mount=type=bind,source=missing.txt,target=/x true\n", "[stage-0 2/2] RUN true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctxDir := t.TempDir()
			writeFile(t, filepath.Join(ctxDir, "Dockerfile"), tt.dockerfile)
			r := runBuilder(t, runOpts{}, "--root", newRoot(t), "build", "--progress", "plain",
				"--build-context", busyboxContext(t), ctxDir)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1:\n%s", r.code, r)
			}
			step := stepNumber(t, r.stderr, tt.step)
			if !regexp.MustCompile(`(?m)^` + step + ` ` + regexp.QuoteMeta(tt.step) + `\n` + step + ` ERROR: .*missing.txt`).MatchString(r.stderr) {
				t.Errorf("no %s ERROR line right after the step:\n%s", step, r.stderr)
			}
			if !regexp.MustCompile(`(?m)^ERROR: Dockerfile:2: .*missing.txt`).MatchString(r.stderr) {
				t.Errorf("the final error does not name Dockerfile:2 and the file:\n%s", r.stderr)
			}
		})
	}
}

// stepNumber finds the "#N" of the step named name in plain progress.
func stepNumber(t *testing.T, progress, name string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^(#\d+) ` + regexp.QuoteMeta(name) + `$`).FindStringSubmatch(progress)
	if m == nil {
		t.Fatalf("no step %q in the progress:\n%s", name, progress)
	}
	return m[1]
}
