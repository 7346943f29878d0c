package executor

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestChrootWorks(t *testing.T) {
	if err := chrootWorks(); err != nil {
		t.Fatalf("chrootWorks: %v (root can always chroot)", err)
	}
}

// TestStepProcessesByRoot checks the sweep by root: a process that is
// neither a descendant of the init nor in its process group (a daemon
// reparented elsewhere) is found because its root is the step's root.
func TestStepProcessesByRoot(t *testing.T) {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox-static is not installed")
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("chroot", root, "/bin/busybox", "sleep", "1000")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	pid := cmd.Process.Pid
	found := func(root string) bool {
		// self and pgid name no process: only the root can match.
		return slices.Contains(stepProcesses(-1, -1, root), pid)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !found(root) {
		if time.Now().After(deadline) {
			t.Fatalf("the chrooted sleep (pid %d) is not found by its root %s", pid, root)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if found(filepath.Join(t.TempDir(), "other")) {
		t.Errorf("pid %d found for another root", pid)
	}
}

// TestSeccompPolicy checks that moby's default profile assembles for this
// architecture, and follows the capabilities: without CAP_SYS_ADMIN no
// mount, with it mount.
func TestSeccompPolicy(t *testing.T) {
	for _, tt := range []struct {
		name  string
		caps  map[int]bool
		mount bool
	}{
		{"default caps", defaultCaps(), false},
		{"with CAP_SYS_ADMIN", map[int]bool{unix.CAP_SYS_ADMIN: true, unix.CAP_SYS_CHROOT: true}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p, err := seccompPolicy(tt.caps)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := p.Assemble(); err != nil {
				t.Fatalf("assemble: %v", err)
			}
			names := p.Syscalls[0].Names
			if got := slices.Contains(names, "mount"); got != tt.mount {
				t.Errorf("mount allowed: %t, want %t", got, tt.mount)
			}
			for _, n := range []string{"execve", "chroot", "setresuid", "openat"} {
				if !slices.Contains(names, n) {
					t.Errorf("%s is not allowed", n)
				}
			}
			if slices.Contains(names, "keyctl") || slices.Contains(names, "add_key") {
				t.Errorf("keyctl/add_key allowed; moby's profile blocks them")
			}
		})
	}
}
