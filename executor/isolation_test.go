package executor_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/builderdev/builder/executor"
	"github.com/builderdev/builder/internal/mount"
	"golang.org/x/sys/unix"
)

func TestDetectAndNew(t *testing.T) {
	iso, err := executor.Detect()
	if err != nil || iso != executor.Namespace {
		t.Fatalf("Detect() = %q, %v; want namespace", iso, err)
	}
	for _, level := range []executor.Isolation{executor.Rootless, "bogus"} {
		if _, err := executor.New(level); err == nil {
			t.Errorf("New(%q): no error", level)
		}
	}
}

func TestNetwork(t *testing.T) {
	e := newExec(t)
	root := busyboxRoot(t)
	hostIfs := countInterfaces(t)
	tests := []struct {
		network string
		want    string
	}{
		{executor.NetworkNone, "1\nlo UP\nok\n"},
	}
	if hostIfs > 1 {
		tests = append(tests, struct{ network, want string }{executor.NetworkHost, ""})
	}
	script := "grep -c : /proc/net/dev; ip -o link | grep -o 'lo: <[^>]*>' | grep -q UP && echo lo UP; ping -c1 -W2 127.0.0.1 >/dev/null && echo ok"
	for _, tt := range tests {
		t.Run(tt.network, func(t *testing.T) {
			out, stderr, err := run(t, e, root, sh(script), func(s *executor.Spec) { s.Network = tt.network })
			if tt.network == executor.NetworkHost {
				// The host's interfaces are all visible.
				if n := strings.SplitN(out, "\n", 2)[0]; n == "1" || err != nil {
					t.Errorf("host network: %q, %v (stderr %q)", out, err, stderr)
				}
				return
			}
			if err != nil || out != tt.want {
				t.Errorf("got %q, %v (stderr %q); want %q", out, err, stderr, tt.want)
			}
		})
	}
}

func countInterfaces(t *testing.T) int {
	data, err := os.ReadFile("/proc/net/dev")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(data), ":")
}

func TestBackgroundProcessKilled(t *testing.T) {
	e := newExec(t)
	root := busyboxRoot(t)
	runBackgrounded(t, e, root, "sleep 1234 & echo started", 15*time.Second, "sleep 1234")
}

func TestCancel(t *testing.T) {
	e := newExec(t)
	root := busyboxRoot(t)
	runCancelled(t, e, root, "sleep 4321 & sleep 4322", "sleep 432")
	assertAbsent(t, root, "dev", "proc", "sys", "etc/hosts")
}

func TestLimits(t *testing.T) {
	e := newExec(t)
	root := busyboxRoot(t)
	t.Run("memory", func(t *testing.T) {
		_, stderr, err := run(t, e, root, sh("head -c 600m /dev/zero | tail"), func(s *executor.Spec) {
			s.Limits.Memory = 64 << 20
		})
		var ee *executor.ExitError
		if !errors.As(err, &ee) || ee.Code != 137 || !ee.OOM {
			t.Fatalf("Run: %v (stderr %q), want exit 137 with OOM", err, stderr)
		}
	})
	t.Run("memory not hit", func(t *testing.T) {
		_, _, err := run(t, e, root, sh("head -c 1m /dev/zero | tail | wc -c"), func(s *executor.Spec) {
			s.Limits.Memory = 64 << 20
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	t.Run("pids", func(t *testing.T) {
		script := marked(t, "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 30 & done; echo all started")
		out, stderr, err := run(t, e, root, sh(script), func(s *executor.Spec) { s.Limits.Pids = 5 })
		var ee *executor.ExitError
		if !errors.As(err, &ee) || !strings.Contains(stderr, "fork") || out != "" {
			t.Fatalf("pids=5: %v (stdout %q, stderr %q), want a fork failure", err, out, stderr)
		}
		out, stderr, err = run(t, e, root, sh(script), func(s *executor.Spec) { s.Limits.Pids = 50 })
		if err != nil || out != "all started\n" {
			t.Fatalf("pids=50: %v (stdout %q, stderr %q)", err, out, stderr)
		}
		// The step's pid namespace takes its background sleeps with it.
		assertNoProcesses(t, "sleep 30")
	})
	t.Run("cpus", func(t *testing.T) {
		var mu sync.Mutex
		var quota string
		w := &callbackWriter{fn: func(p []byte) {
			// The step prints its cpu cgroup, then sleeps while we look.
			for _, line := range strings.Split(string(p), "\n") {
				f := strings.SplitN(line, ":", 3)
				if len(f) == 3 && strings.Contains(","+f[1]+",", ",cpu,") {
					data, _ := os.ReadFile(filepath.Join("/sys/fs/cgroup/cpu", f[2], "cpu.cfs_quota_us"))
					mu.Lock()
					quota = strings.TrimSpace(string(data))
					mu.Unlock()
				}
			}
		}}
		err := e.Run(context.Background(), executor.Spec{
			RootMounts: bindRoot(root), Env: []string{testPath},
			Args:   sh("cat /proc/self/cgroup; sleep 1"),
			Stdout: w, Limits: executor.Limits{CPUs: 0.5},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"); err != nil {
			t.Skip("no cgroup v1 cpu controller to inspect")
		}
		mu.Lock()
		defer mu.Unlock()
		if quota != "50000" {
			t.Errorf("cfs quota %q, want 50000", quota)
		}
	})
}

type callbackWriter struct{ fn func([]byte) }

func (w *callbackWriter) Write(p []byte) (int, error) { w.fn(p); return len(p), nil }

func TestMounts(t *testing.T) {
	e := newExec(t)
	root := busyboxRoot(t)
	rw, ro := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(ro, "f"), []byte("ro content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	script := `echo hi > /rw/new && echo rw ok
cat /ro/f; touch /ro/x 2>/dev/null || echo ro ok
cat /run/secrets/id; echo
dd if=/dev/zero of=/scratch/big bs=1k count=2048 2>/dev/null || echo tmpfs full
stat -c %a /scratch`
	out, stderr, err := run(t, e, root, sh(script), func(s *executor.Spec) {
		s.Mounts = []mount.Mount{
			{Type: "bind", Source: rw, Target: "/rw"},
			{Type: "bind", Source: ro, Target: "/ro", Options: []string{"ro"}},
			{Type: "bind", Source: secret, Target: "/run/secrets/id", Options: []string{"ro"}},
			{Type: "tmpfs", Target: "/scratch", Options: []string{"size=1m", "mode=1777"}},
		}
	})
	want := "rw ok\nro content\nro ok\ns3cret\ntmpfs full\n1777\n"
	if err != nil || out != want {
		t.Fatalf("got %q, %v (stderr %q); want %q", out, err, stderr, want)
	}
	if data, err := os.ReadFile(filepath.Join(rw, "new")); err != nil || string(data) != "hi\n" {
		t.Errorf("rw bind: %q, %v", data, err)
	}
	for _, p := range []string{"rw", "ro", "run", "scratch"} {
		if _, err := os.Lstat(filepath.Join(root, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("mount point %s left in the root", p)
		}
	}
}

func TestSymlinkMountTargetStaysInside(t *testing.T) {
	e := newExec(t)
	root := busyboxRoot(t)
	outside := t.TempDir()
	// /etc/resolv.conf -> a path that would escape if resolved on the host.
	if err := os.Symlink("../../../../../../"+outside+"/resolv.conf", filepath.Join(root, "etc/resolv.conf")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, e, root, sh("grep -q nameserver /etc/resolv.conf"), nil); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(outside); len(entries) > 0 {
		t.Errorf("a mount point escaped the root: %v", entries)
	}
}

// TestOverlayRoot runs a step on an overlay root mounted from a Dir with
// relative lowerdir paths, and checks the upper dir holds only the change.
func TestOverlayRoot(t *testing.T) {
	e := newExec(t)
	lower := busyboxRoot(t)
	base := t.TempDir()
	for _, d := range []string{"upper", "work"} {
		if err := os.Mkdir(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	rel, err := filepath.Rel(base, lower)
	if err != nil {
		t.Fatal(err)
	}
	mounts := []mount.Mount{{
		Type: "overlay", Source: "overlay", Dir: base,
		Options: []string{"lowerdir=" + rel, "upperdir=upper", "workdir=work"},
	}}
	out, stderr, err := run(t, e, "", sh("echo hi > /tmp/x; echo $$; ls /dev/null"), func(s *executor.Spec) {
		s.RootMounts = mounts
	})
	if err != nil || out != "1\n/dev/null\n" {
		t.Fatalf("Run: %q, %v (stderr %q)", out, err, stderr)
	}
	var got []string
	upper := filepath.Join(base, "upper")
	err = filepath.Walk(upper, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if p != upper {
			r, _ := filepath.Rel(upper, p)
			got = append(got, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// etc is copied up (its times restored) to hold the removed stubs.
	want := map[string]bool{"tmp": true, "tmp/x": true, "etc": true}
	for _, g := range got {
		if !want[g] {
			t.Errorf("unexpected %s in the upper dir (all: %v)", g, got)
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(filepath.Join(upper, "tmp/x"), &st); err != nil {
		t.Errorf("tmp/x not in the upper dir: %v", err)
	}
}
