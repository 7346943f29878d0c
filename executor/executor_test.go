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

func TestExitCodes(t *testing.T) {
	e := newExec(t)
	root := busyboxRoot(t)
	checkExitCodes(t, e, root, commonExitCases())
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
	checkOutputs(t, e, root, append([]outputCase{
		{"pid 1", sh("echo $$"), nil, "1\n"},
		// The init execs the command in its own place: as with runc, it
		// leads its session and process group.
		{"pid 1 leads its session", sh("cut -d' ' -f5,6 /proc/1/stat"), nil, "1 1\n"},
		{"default hostname", []string{"hostname"}, nil, executor.DefaultHostname + "\n"},
		{"hostname", []string{"hostname"}, func(s *executor.Spec) { s.Hostname = "step-host" }, "step-host\n"},
		{"dev null and urandom", sh("echo x > /dev/null && head -c 4 /dev/urandom | wc -c"), nil, "4\n"},
		{"dev zero and full", sh("head -c 3 /dev/zero | wc -c; echo x > /dev/full || echo full"), nil, "3\nfull\n"},
		{"dev nodes", sh("stat -c '%F %t,%T' /dev/null /dev/zero"), nil,
			"character special file 1,3\ncharacter special file 1,5\n"},
		{"dev shm", sh("echo x > /dev/shm/f && stat -c %a /dev/shm && readlink /dev/fd && readlink /dev/ptmx"), nil,
			"1777\n/proc/self/fd\npts/ptmx\n"},
		{"dev mqueue", sh("grep ' /dev/mqueue ' /proc/mounts | cut -d' ' -f3"), nil, "mqueue\n"},
		{"proc shows only the step", sh("echo /proc/[0-9]*"), nil, "/proc/1\n"},
		{"proc 1 is the command", sh("tr '\\0' ' ' < /proc/1/cmdline; echo"), nil,
			"/bin/sh -c tr '\\0' ' ' < /proc/1/cmdline; echo \n"},
		{"root caps are docker's", sh("grep -E '^Cap(Eff|Bnd)' /proc/self/status"), nil,
			"CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\n"},
		{"user has no caps", sh("grep -E '^Cap(Eff|Bnd)' /proc/self/status"), func(s *executor.Spec) { s.UID, s.GID = 1000, 1000 },
			"CapEff:\t0000000000000000\nCapBnd:\t00000000a80425fb\n"},
		{"no mount for root", sh("mkdir -p /tmp/m && mount -t tmpfs t /tmp/m 2>/dev/null || echo denied"), nil, "denied\n"},
		{"proc masked", sh("wc -c < /proc/timer_list; echo x > /proc/sys/kernel/hostname 2>/dev/null || echo ro"), nil, "0\nro\n"},
		{"sys is read-only", sh("touch /sys/x 2>/dev/null || echo ro"), nil, "ro\n"},
		{"hosts and resolv.conf are read-only", sh("for f in /etc/hosts /etc/resolv.conf; do echo x >> $f 2>/dev/null || echo ro; done"), nil, "ro\nro\n"},
	}, commonOutputCases()...))
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
			s.Mounts = []mount.Mount{{Type: "bind", Source: data, Target: "/mnt/data"}}
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
	// A command that cannot be started fails after the root was entered:
	// its mount points go as well.
	if _, _, err := run(t, e, root, []string{"no-such-command"}, nil); err == nil {
		t.Fatal("Run of a missing command succeeded")
	}
	for _, p := range []string{"dev", "proc", "sys", "etc/hosts", "etc/resolv.conf"} {
		if _, err := os.Lstat(filepath.Join(root, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("after a failed start, %s left in the root (err %v)", p, err)
		}
	}
	if after := mtimes(t, root, ".", "etc", "tmp"); !slices.Equal(before, after) {
		t.Errorf("after a failed start, mtimes changed: %v -> %v", before, after)
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
	if _, _, err := run(t, e, root, sh("echo changed >> /etc/hosts || true"), nil); err != nil {
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

func TestWrittenStubKept(t *testing.T) { checkWrittenStubKept(t, newExec(t)) }
