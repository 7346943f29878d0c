package executor_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/builderdev/builder/executor"
	"github.com/builderdev/builder/internal/mount"
)

func newChrootExec(t *testing.T) executor.Executor {
	t.Helper()
	e, err := executor.New(executor.Chroot, executor.WithTmpDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestChrootExitCodes(t *testing.T) {
	e := newChrootExec(t)
	root := busyboxRoot(t)
	checkExitCodes(t, e, root, append([]exitCase{
		{"killed by signal", sh("kill -9 $$"), 137},
	}, commonExitCases()...))
}

func TestChrootInitFailure(t *testing.T) {
	e := newChrootExec(t)
	root := busyboxRoot(t)
	_, _, err := run(t, e, root, []string{"no-such-command"}, nil)
	var ee *executor.ExitError
	if err == nil || errors.As(err, &ee) || !strings.Contains(err.Error(), "init failed") ||
		!strings.Contains(err.Error(), "executable file not found") {
		t.Fatalf("Run: got %v, want an init error naming the missing command", err)
	}
	if _, err := os.Lstat(filepath.Join(root, "etc/hosts")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("/etc/hosts left after a failed start (%v)", err)
	}
}

func TestChrootProcess(t *testing.T) {
	t.Setenv("BUILDER_TEST_LEAK_MARKER", "leaked")
	e := newChrootExec(t)
	root := busyboxRoot(t)
	checkOutputs(t, e, root, append([]outputCase{
		{"no PATH uses the default", []string{"sh", "-c", "echo ok"}, func(s *executor.Spec) { s.Env = nil }, "ok\n"},
		{"user cannot write root's dirs", sh("touch /etc/x 2>/dev/null || echo denied"), func(s *executor.Spec) {
			s.UID, s.GID = 1000, 1000
		}, "denied\n"},
		{"hosts and resolv.conf modes", sh("stat -c '%n %a %u:%g' /etc/hosts /etc/resolv.conf"), nil,
			"/etc/hosts 644 0:0\n/etc/resolv.conf 644 0:0\n"},
		{"root is the chroot", sh("ls / | tr '\\n' ' '"), nil, "bin dev etc home root tmp "},
		{"dev nodes", sh("stat -c '%n %F %t,%T %a' /dev/*; echo x > /dev/null; head -c 3 /dev/zero | wc -c; echo x > /dev/full || echo full"), nil,
			"/dev/full character special file 1,7 666\n/dev/null character special file 1,3 666\n" +
				"/dev/random character special file 1,8 666\n/dev/tty character special file 5,0 666\n" +
				"/dev/urandom character special file 1,9 666\n/dev/zero character special file 1,5 666\n3\nfull\n"},
	}, commonOutputCases()...))
	if err := os.RemoveAll(filepath.Join(root, "work")); err != nil {
		t.Fatal(err)
	}
}

func TestChrootStderr(t *testing.T) {
	e := newChrootExec(t)
	root := busyboxRoot(t)
	out, stderr, err := run(t, e, root, sh("echo out; echo err >&2"), nil)
	if err != nil || out != "out\n" || stderr != "err\n" {
		t.Errorf("Run: %v, stdout %q stderr %q", err, out, stderr)
	}
}

// TestChrootEtcFiles checks that /etc/hosts and /etc/resolv.conf are there
// during the step only, written only where missing, and that directory
// times are restored.
func TestChrootEtcFiles(t *testing.T) {
	e := newChrootExec(t)
	t.Run("removed afterwards", func(t *testing.T) {
		root := busyboxRoot(t)
		before := mtimes(t, root, ".", "etc", "tmp")
		out, stderr, err := run(t, e, root, sh("ls /etc/hosts /etc/resolv.conf /dev/null"), nil)
		if err != nil || out != "/dev/null\n/etc/hosts\n/etc/resolv.conf\n" {
			t.Fatalf("Run: %v, stdout %q, stderr %q", err, out, stderr)
		}
		assertAbsent(t, root, "etc/hosts", "etc/resolv.conf", "dev")
		if after := mtimes(t, root, ".", "etc", "tmp"); !slices.Equal(before, after) {
			t.Errorf("mtimes changed: %v -> %v", before, after)
		}
	})
	t.Run("no etc in the image", func(t *testing.T) {
		root := busyboxRoot(t)
		if err := os.RemoveAll(filepath.Join(root, "etc")); err != nil {
			t.Fatal(err)
		}
		old := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
		if err := os.Chtimes(root, old, old); err != nil {
			t.Fatal(err)
		}
		out, stderr, err := run(t, e, root, sh("cat /etc/hosts | head -n1"), nil)
		if err != nil || out != "127.0.0.1\tlocalhost buildkitsandbox\n" {
			t.Fatalf("Run: %v, stdout %q, stderr %q", err, out, stderr)
		}
		assertAbsent(t, root, "etc")
		if m := mtimes(t, root, "."); !m[0].Equal(old) {
			t.Errorf("root mtime %v, want %v", m[0], old)
		}
	})
	t.Run("etc the step wrote into is kept", func(t *testing.T) {
		root := busyboxRoot(t)
		if err := os.RemoveAll(filepath.Join(root, "etc")); err != nil {
			t.Fatal(err)
		}
		if _, stderr, err := run(t, e, root, sh("echo v > /etc/mine"), nil); err != nil {
			t.Fatalf("Run: %v (stderr %q)", err, stderr)
		}
		entries, err := os.ReadDir(filepath.Join(root, "etc"))
		if err != nil || len(entries) != 1 || entries[0].Name() != "mine" {
			t.Errorf("etc = %v, %v; want only the step's file", entries, err)
		}
	})
	t.Run("image files kept", func(t *testing.T) {
		root := busyboxRoot(t)
		hosts := filepath.Join(root, "etc/hosts")
		if err := os.WriteFile(hosts, []byte("image hosts\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		out, stderr, err := run(t, e, root, []string{"cat", "/etc/hosts"}, nil)
		if err != nil || out != "image hosts\n" {
			t.Fatalf("Run: %v, stdout %q, stderr %q", err, out, stderr)
		}
		fi, err := os.Stat(hosts)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("image /etc/hosts: %v %v, want it kept", fi, err)
		}
		assertAbsent(t, root, "etc/resolv.conf")
	})
	t.Run("etc symlink resolves inside the root", func(t *testing.T) {
		root := busyboxRoot(t)
		outside := t.TempDir()
		if err := os.RemoveAll(filepath.Join(root, "etc")); err != nil {
			t.Fatal(err)
		}
		// Absolute: on the host it would point at outside.
		if err := os.Symlink(outside, filepath.Join(root, "etc")); err != nil {
			t.Fatal(err)
		}
		before := mtimes(t, root, "tmp")
		out, stderr, err := run(t, e, root, []string{"cat", outside + "/hosts"}, nil)
		if err != nil || !strings.HasPrefix(out, "127.0.0.1\tlocalhost") {
			t.Fatalf("Run: %v, stdout %q, stderr %q", err, out, stderr)
		}
		if entries, _ := os.ReadDir(outside); len(entries) > 0 {
			t.Errorf("files written outside the root: %v", entries)
		}
		if entries, _ := os.ReadDir(filepath.Join(root, "tmp")); len(entries) > 0 {
			t.Errorf("directories made for /etc left in the root: %v", entries)
		}
		if after := mtimes(t, root, "tmp"); !slices.Equal(before, after) {
			t.Errorf("mtime of /tmp changed: %v -> %v", before, after)
		}
	})
	t.Run("step swaps etc for a symlink out", func(t *testing.T) {
		root := busyboxRoot(t)
		outside := t.TempDir()
		for _, f := range []string{"hosts", "resolv.conf"} {
			if err := os.WriteFile(filepath.Join(outside, f), []byte("host file\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		script := "rm -rf /etc && ln -s " + outside + " /etc"
		if _, stderr, err := run(t, e, root, sh(script), nil); err != nil {
			t.Fatalf("Run: %v (stderr %q)", err, stderr)
		}
		for _, f := range []string{"hosts", "resolv.conf"} {
			if _, err := os.Stat(filepath.Join(outside, f)); err != nil {
				t.Errorf("file outside the root removed: %v", err)
			}
		}
	})
}

func TestChrootRefuses(t *testing.T) {
	e := newChrootExec(t)
	root := busyboxRoot(t)
	tests := []struct {
		name string
		edit func(*executor.Spec)
		want string
	}{
		{"overlay root", func(s *executor.Spec) {
			s.RootMounts = []mount.Mount{{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=" + root}}}
		}, "needs a bind root mount"},
		{"missing root", func(s *executor.Spec) { s.RootMounts = bindRoot(filepath.Join(root, "missing")) }, "bind root"},
		{"tmpfs mount", func(s *executor.Spec) {
			s.Mounts = []mount.Mount{{Type: "tmpfs", Source: "tmpfs", Target: "/cache"}}
		}, "RUN --mount needs the namespace isolation level"},
		{"directory bind", func(s *executor.Spec) {
			s.Mounts = []mount.Mount{{Type: "bind", Source: t.TempDir(), Target: "/cache", Options: []string{"ro"}}}
		}, "RUN --mount needs the namespace isolation level"},
		{"read-write file bind", func(s *executor.Spec) {
			s.Mounts = []mount.Mount{{Type: "bind", Source: filepath.Join(root, "etc/passwd"), Target: "/cache"}}
		}, "RUN --mount needs the namespace isolation level"},
		{"file over an existing one", func(s *executor.Spec) {
			s.Mounts = []mount.Mount{{Type: "bind", Source: filepath.Join(root, "etc/passwd"), Target: "/etc/group", Options: []string{"ro"}}}
		}, "cannot cover it"},
		{"network none", func(s *executor.Spec) { s.Network = executor.NetworkNone }, "--network=none is not available at the chroot isolation level: it needs a network namespace, which the namespace and rootless levels have"},
		{"no command", func(s *executor.Spec) { s.Args = nil }, "no command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := run(t, e, root, []string{"true"}, tt.edit)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Run: %v, want an error containing %q", err, tt.want)
			}
		})
	}
	assertAbsent(t, root, "etc/hosts", "cache")
}

// TestChrootFileMounts checks the emulation of read-only file binds (heredoc
// scripts, secrets): copied in with owner and mode, gone afterwards.
func TestChrootFileMounts(t *testing.T) {
	e := newChrootExec(t)
	root := busyboxRoot(t)
	src := t.TempDir()
	script := filepath.Join(src, "script")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho from heredoc\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(src, "secret")
	if err := os.WriteFile(secret, []byte("s3cret"), 0o400); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(secret, 1000, 1000); err != nil {
		t.Fatal(err)
	}
	before := mtimes(t, root, ".", "etc", "tmp")
	out, stderr, err := run(t, e, root, sh("/dev/pipes/EOF; stat -c '%a %u:%g' /run/secrets/id; cat /run/secrets/id"),
		func(s *executor.Spec) {
			s.UID, s.GID = 1000, 1000
			s.Mounts = []mount.Mount{
				{Type: "bind", Source: script, Target: "/dev/pipes/EOF", Options: []string{"bind", "ro"}},
				{Type: "bind", Source: secret, Target: "/run/secrets/id", Options: []string{"bind", "ro", "nosuid"}},
			}
		})
	if err != nil || out != "from heredoc\n400 1000:1000\ns3cret" {
		t.Fatalf("Run: %v, stdout %q, stderr %q", err, out, stderr)
	}
	assertAbsent(t, root, "dev", "run", "etc/hosts")
	if after := mtimes(t, root, ".", "etc", "tmp"); !slices.Equal(before, after) {
		t.Errorf("mtimes changed: %v -> %v", before, after)
	}
}

func TestChrootCancel(t *testing.T) {
	e := newChrootExec(t)
	root := busyboxRoot(t)
	// A background child, an orphaned grandchild in its own session and
	// the foreground sleep.
	runCancelled(t, e, root, "sleep 1001 & (setsid sleep 1002 &) ; sleep 100", "sleep 100", "sleep 1002")
	assertAbsent(t, root, "etc/hosts", "etc/resolv.conf")
}

func TestChrootBackgroundKilled(t *testing.T) {
	e := newChrootExec(t)
	root := busyboxRoot(t)
	runBackgrounded(t, e, root, "sleep 2001 & (setsid sleep 2002 &); echo started", 15*time.Second, "sleep 200")
}

func TestChrootLimits(t *testing.T) {
	e := newChrootExec(t)
	root := busyboxRoot(t)
	script := marked(t, "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 30 & done; echo all started")
	out, stderr, err := run(t, e, root, sh(script), func(s *executor.Spec) { s.Limits.Pids = 5 })
	if err != nil && strings.Contains(err.Error(), "not available") {
		t.Skipf("no writable cgroups here: %v", err)
	}
	var ee *executor.ExitError
	if !errors.As(err, &ee) || !strings.Contains(stderr, "fork") || out != "" {
		t.Fatalf("pids=5: %v (stdout %q, stderr %q), want a fork failure", err, out, stderr)
	}
	assertNoProcesses(t, "sleep 30")
}

func TestChrootWrittenStubKept(t *testing.T) { checkWrittenStubKept(t, newChrootExec(t)) }
