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
)

func TestExitCodes(t *testing.T) {
	e := newExec(t)
	root := busyboxRoot(t)
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"success", []string{"true"}, 0},
		{"exit 3", sh("exit 3"), 3},
		{"child killed by signal", sh(`sh -c 'kill -9 $$'; exit $?`), 137},
		{"false", []string{"/bin/false"}, 1},
	}
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

func TestInitFailureIsNotExitError(t *testing.T) {
	e := newExec(t)
	root := busyboxRoot(t)
	_, _, err := run(t, e, root, []string{"no-such-command"}, nil)
	var ee *executor.ExitError
	if err == nil || errors.As(err, &ee) {
		t.Fatalf("Run: got %v, want an init error", err)
	}
	if !strings.Contains(err.Error(), "init failed") || !strings.Contains(err.Error(), "executable file not found") {
		t.Errorf("error %q does not explain the failure", err)
	}
}

func TestSetupFailure(t *testing.T) {
	e := newExec(t)
	root := busyboxRoot(t)
	_, _, err := run(t, e, root, []string{"true"}, func(s *executor.Spec) {
		s.RootMounts = bindRoot(filepath.Join(root, "missing"))
	})
	var ee *executor.ExitError
	if err == nil || errors.As(err, &ee) || !strings.Contains(err.Error(), "init failed: bind root") {
		t.Fatalf("Run: got %v, want an init error about the root mount", err)
	}
}

func TestProcess(t *testing.T) {
	t.Setenv("BUILDER_TEST_LEAK_MARKER", "leaked")
	e := newExec(t)
	root := busyboxRoot(t)
	tests := []struct {
		name string
		args []string
		edit func(*executor.Spec)
		want string
	}{
		{"pid 1", sh("echo $$"), nil, "1\n"},
		{"env exactly", []string{"env"}, func(s *executor.Spec) {
			s.Env = []string{testPath, "FOO=bar baz", "EMPTY="}
		}, testPath + "\nFOO=bar baz\nEMPTY=\n"},
		{"root user", []string{"id"}, nil, "uid=0(root) gid=0(root)\n"},
		{"user and groups", []string{"id"}, func(s *executor.Spec) {
			s.UID, s.GID, s.Groups = 1000, 1000, []uint32{1000, 10}
		}, "uid=1000(user) gid=1000(user) groups=10(wheel),1000(user)\n"},
		{"default hostname", []string{"hostname"}, nil, executor.DefaultHostname + "\n"},
		{"hostname", []string{"hostname"}, func(s *executor.Spec) { s.Hostname = "step-host" }, "step-host\n"},
		{"hosts", []string{"cat", "/etc/hosts"}, func(s *executor.Spec) { s.Hostname = "h1" },
			"127.0.0.1\tlocalhost h1\n::1\tlocalhost ip6-localhost ip6-loopback\n"},
		{"resolv.conf has a nameserver", sh("grep -c '^nameserver' /etc/resolv.conf >/dev/null && echo ok"), nil, "ok\n"},
		{"cwd", []string{"pwd"}, func(s *executor.Spec) { s.Cwd = "/tmp" }, "/tmp\n"},
		{"cwd created", sh("pwd; stat -c '%u %a' ."), func(s *executor.Spec) {
			s.Cwd = "/work/sub"
			s.UID = 1000
		}, "/work/sub\n0 755\n"},
		{"umask", sh("umask"), nil, "0022\n"},
		{"dev null and urandom", sh("echo x > /dev/null && head -c 4 /dev/urandom | wc -c"), nil, "4\n"},
		{"dev zero and full", sh("head -c 3 /dev/zero | wc -c; echo x > /dev/full || echo full"), nil, "3\nfull\n"},
		{"dev nodes", sh("stat -c '%F %t,%T' /dev/null /dev/zero"), nil,
			"character special file 1,3\ncharacter special file 1,5\n"},
		{"dev shm", sh("echo x > /dev/shm/f && stat -c %a /dev/shm && readlink /dev/fd && readlink /dev/ptmx"), nil,
			"1777\n/proc/self/fd\npts/ptmx\n"},
		{"proc shows only the step", sh("echo /proc/[0-9]*"), nil, "/proc/1\n"},
		{"proc 1 is the command", sh("tr '\\0' ' ' < /proc/1/cmdline; echo"), nil,
			"/bin/sh -c tr '\\0' ' ' < /proc/1/cmdline; echo \n"},
		{"stdin is empty", []string{"cat"}, nil, ""},
		{"root caps are docker's", sh("grep -E '^Cap(Eff|Bnd)' /proc/self/status"), nil,
			"CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\n"},
		{"user has no caps", sh("grep -E '^Cap(Eff|Bnd)' /proc/self/status"), func(s *executor.Spec) { s.UID, s.GID = 1000, 1000 },
			"CapEff:\t0000000000000000\nCapBnd:\t00000000a80425fb\n"},
		{"no mount for root", sh("mkdir -p /tmp/m && mount -t tmpfs t /tmp/m 2>/dev/null || echo denied"), nil, "denied\n"},
		{"proc masked", sh("wc -c < /proc/timer_list; echo x > /proc/sys/kernel/hostname 2>/dev/null || echo ro"), nil, "0\nro\n"},
		{"sys is read-only", sh("touch /sys/x 2>/dev/null || echo ro"), nil, "ro\n"},
	}
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

func TestStderr(t *testing.T) {
	e := newExec(t)
	root := busyboxRoot(t)
	out, stderr, err := run(t, e, root, sh("echo out; echo err >&2"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if out != "out\n" || stderr != "err\n" {
		t.Errorf("stdout %q stderr %q", out, stderr)
	}
}

// TestNothingLeftInRoot checks that the mount points made for a step are
// gone afterwards and that no directory's mtime changed.
func TestNothingLeftInRoot(t *testing.T) {
	e := newExec(t)
	root := busyboxRoot(t)
	data := t.TempDir()
	before := mtimes(t, root, ".", "etc", "tmp")
	out, stderr, err := run(t, e, root, sh("ls /dev/null /proc/self /sys/kernel /etc/hosts /etc/resolv.conf /mnt/data >/dev/null && echo ok"),
		func(s *executor.Spec) {
			s.Mounts = []executor.Mount{{Type: "bind", Source: data, Target: "/mnt/data"}}
		})
	if err != nil || out != "ok\n" {
		t.Fatalf("Run: %v, stdout %q, stderr %q", err, out, stderr)
	}
	for _, p := range []string{"dev", "proc", "sys", "etc/hosts", "etc/resolv.conf", "mnt"} {
		if _, err := os.Lstat(filepath.Join(root, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left in the root (err %v)", p, err)
		}
	}
	if after := mtimes(t, root, ".", "etc", "tmp"); !slices.Equal(before, after) {
		t.Errorf("mtimes changed: %v -> %v", before, after)
	}
}

func TestExistingFilesKept(t *testing.T) {
	e := newExec(t)
	root := busyboxRoot(t)
	hosts := filepath.Join(root, "etc/hosts")
	if err := os.WriteFile(hosts, []byte("image hosts\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "dev"), 0o711); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, e, root, sh("echo changed >> /etc/hosts"), nil); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(hosts)
	if err != nil || string(got) != "image hosts\n" {
		t.Errorf("/etc/hosts = %q, %v; want the image's unchanged", got, err)
	}
	fi, err := os.Stat(filepath.Join(root, "dev"))
	if err != nil || fi.Mode().Perm() != 0o711 {
		t.Errorf("/dev: %v %v, want the image's dir kept", fi, err)
	}
}

func mtimes(t *testing.T, root string, names ...string) []time.Time {
	t.Helper()
	var out []time.Time
	for _, n := range names {
		fi, err := os.Lstat(filepath.Join(root, n))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fi.ModTime())
	}
	return out
}
