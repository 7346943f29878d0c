package executor_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/builderdev/builder/executor"
)

// Test fixtures shared by the namespace and the chroot level: each level's
// tests list their cases, these run and check them the same way.

// exitCase is a command and the exit code Run must report for it.
type exitCase struct {
	name string
	args []string
	code int
}

// checkExitCodes runs each case in root: code 0 must succeed, any other
// must be an *ExitError with that code and no OOM.
func checkExitCodes(t *testing.T, e executor.Executor, root string, tests []exitCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, stderr, err := run(t, e, root, tt.args, nil)
			if tt.code == 0 {
				if err != nil {
					t.Fatalf("Run: %v (stderr %q)", err, stderr)
				}
				return
			}
			var ee *executor.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("Run: got %v, want *ExitError", err)
			}
			if ee.Code != tt.code || ee.OOM {
				t.Errorf("got %+v, want code %d", ee, tt.code)
			}
		})
	}
}

// commonExitCases are the exit codes both levels report alike.
func commonExitCases() []exitCase {
	return []exitCase{
		{"success", []string{"true"}, 0},
		{"exit 3", sh("exit 3"), 3},
		{"child killed by signal", sh(`sh -c 'kill -9 $$'; exit $?`), 137},
		{"false", []string{"/bin/false"}, 1},
	}
}

// commonOutputCases are what a step sees alike at both levels: its exact
// environment, user and groups, /etc/hosts and /etc/resolv.conf, working
// directory, umask and an empty stdin.
func commonOutputCases() []outputCase {
	return []outputCase{
		{"env exactly", []string{"env"}, func(s *executor.Spec) {
			s.Env = []string{testPath, "FOO=bar baz", "EMPTY="}
		}, testPath + "\nFOO=bar baz\nEMPTY=\n"},
		{"root user", []string{"id"}, nil, "uid=0(root) gid=0(root)\n"},
		{"user and groups", []string{"id"}, func(s *executor.Spec) {
			s.UID, s.GID, s.Groups = 1000, 1000, []uint32{1000, 10}
		}, "uid=1000(user) gid=1000(user) groups=10(wheel),1000(user)\n"},
		{"hosts", []string{"cat", "/etc/hosts"}, func(s *executor.Spec) { s.Hostname = "h1" },
			"127.0.0.1\tlocalhost h1\n::1\tlocalhost ip6-localhost ip6-loopback\n"},
		{"resolv.conf has a nameserver", sh("grep -c '^nameserver' /etc/resolv.conf >/dev/null && echo ok"), nil, "ok\n"},
		{"cwd", []string{"pwd"}, func(s *executor.Spec) { s.Cwd = "/tmp" }, "/tmp\n"},
		{"cwd created for the user (as BuildKit)", sh("pwd; stat -c '%u %a' ."), func(s *executor.Spec) {
			s.Cwd = "/work/sub"
			s.UID = 1000
		}, "/work/sub\n1000 755\n"},
		{"umask", sh("umask"), nil, "0022\n"},
		{"stdin is empty", []string{"cat"}, nil, ""},
	}
}

// outputCase is a command, a change to its spec and the stdout it must
// print.
type outputCase struct {
	name string
	args []string
	edit func(*executor.Spec)
	want string
}

// checkOutputs runs each case in root; it must succeed and print want.
func checkOutputs(t *testing.T, e executor.Executor, root string, tests []outputCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, stderr, err := run(t, e, root, tt.args, tt.edit)
			if err != nil {
				t.Fatalf("Run: %v (stderr %q)", err, stderr)
			}
			if out != tt.want {
				t.Errorf("stdout %q, want %q (stderr %q)", out, tt.want, stderr)
			}
		})
	}
}

// runCancelled runs script with sh in root under a 300ms deadline: Run must
// fail with the deadline within 15 seconds (far below the sleeps the
// scripts use; generous for a loaded machine) and leave no process whose
// command line contains one of left.
func runCancelled(t *testing.T, e executor.Executor, root, script string, left ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := e.Run(ctx, executor.Spec{
		RootMounts: bindRoot(root),
		Args:       []string{"sh", "-c", script},
		Env:        []string{testPath, markEnv(t)},
	})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run: %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("cancel took %v", d)
	}
	assertNoProcesses(t, left...)
}

// runBackgrounded runs script, which starts background processes and
// echoes "started", in root: Run must succeed within limit, not waiting
// for them, and they must be gone: no process of this test whose command
// line contains one of left.
func runBackgrounded(t *testing.T, e executor.Executor, root, script string, limit time.Duration, left ...string) {
	t.Helper()
	start := time.Now()
	out, stderr, err := run(t, e, root, sh(marked(t, script)), nil)
	if err != nil || out != "started\n" {
		t.Fatalf("Run: %v, stdout %q, stderr %q", err, out, stderr)
	}
	if d := time.Since(start); d > limit {
		t.Errorf("run took %v: background processes were waited for", d)
	}
	assertNoProcesses(t, left...)
}

// assertNoProcesses checks that no process of this test (see markVar)
// whose command line contains one of patterns is left.
func assertNoProcesses(t *testing.T, patterns ...string) {
	t.Helper()
	if p := processesMarked(testMark(t), patterns...); len(p) > 0 {
		t.Errorf("processes left: %v", p)
	}
}

// assertAbsent checks that none of names is left in root.
func assertAbsent(t *testing.T, root string, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := os.Lstat(filepath.Join(root, n)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left in the root (err %v)", n, err)
		}
	}
}

// checkWrittenStubKept runs a step that writes into /etc in a root without
// one: /etc is first made as a mount point for /etc/hosts, and must be kept
// (without hosts) because the step put a file there.
func checkWrittenStubKept(t *testing.T, e executor.Executor) {
	t.Helper()
	root := busyboxRoot(t)
	if err := os.RemoveAll(filepath.Join(root, "etc")); err != nil {
		t.Fatal(err)
	}
	if _, stderr, err := run(t, e, root, sh("echo x > /etc/foo"), nil); err != nil {
		t.Fatalf("%v (stderr %q)", err, stderr)
	}
	if got, err := os.ReadFile(filepath.Join(root, "etc/foo")); err != nil || string(got) != "x\n" {
		t.Errorf("etc/foo = %q, %v; want the step's file", got, err)
	}
	for _, p := range []string{"etc/hosts", "etc/resolv.conf"} {
		if _, err := os.Lstat(filepath.Join(root, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left in the root (err %v)", p, err)
		}
	}
}
