package executor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/userns"
)

// Detect returns the strongest isolation level that works here. It
// starts a short-lived probe process (this binary, see Reexec) in the
// namespaces Namespace needs; if that fails (an unprivileged pod), a probe
// that chroots into an empty directory, for Chroot. Root of a user
// namespace other than the host's (RunInUserNamespace, `unshare -r`, a pod
// with hostUsers: false) gets Rootless where the same namespaces work.
func Detect() (Isolation, error) {
	nsErr := errors.New("not root")
	if os.Geteuid() == 0 {
		nsErr = probeNamespaces()
	}
	if nsErr == nil {
		if userns.Inside() {
			return Rootless, nil
		}
		return Namespace, nil
	}
	if err := chrootWorks(); err != nil {
		return "", fmt.Errorf("detect isolation: namespaces do not work here (%v) and %w", nsErr, err)
	}
	return Chroot, nil
}

// probeNamespaces runs the probe in the namespaces Namespace needs.
func probeNamespaces() error {
	cmd := &exec.Cmd{
		Path: "/proc/self/exe",
		Args: []string{probeName},
		Env:  []string{},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS |
				unix.CLONE_NEWIPC | unix.CLONE_NEWNET,
			Pdeathsig: syscall.SIGKILL,
		},
	}
	return cmd.Run()
}
