package executor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// stage2Spec is what stage 1 sends to stage 2.
type stage2Spec struct {
	Root string `json:"root"`
	stepProcess
}

// stage1 runs in new mount/uts/ipc(/net) namespaces: it prepares the root,
// runs stage 2, cleans up and reports. It returns the process exit status.
func stage1() int {
	return initMain(runStage1Init)
}

func runStage1Init(is *initSpec, sigs <-chan os.Signal) (int, error) {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return -1, fmt.Errorf("make mounts private: %w", err)
	}
	if err := unix.Sethostname([]byte(is.Hostname)); err != nil {
		return -1, fmt.Errorf("set hostname: %w", err)
	}
	if is.Network == NetworkNone {
		if err := loopbackUp(); err != nil {
			return -1, err
		}
	}
	r := &rootfs{runDir: is.RunDir}
	setupErr := r.setup(is)
	code := -1
	if setupErr == nil {
		code, setupErr = namespaceStage2().run(newStage2Spec(is, r.root), sigs)
	}
	if err := r.teardown(); err != nil && setupErr == nil {
		setupErr = err
	}
	return code, setupErr
}

// namespaceStage2 starts stage 2 in new pid and mount namespaces and waits
// for it. A signal kills it (and with it the whole pid namespace).
func namespaceStage2() stage2Runner {
	return stage2Runner{
		argv0: stage2Name,
		attr: &syscall.SysProcAttr{
			Cloneflags: unix.CLONE_NEWPID | unix.CLONE_NEWNS,
			Pdeathsig:  syscall.SIGKILL,
		},
		kill: func(cmd *exec.Cmd) { _ = cmd.Process.Kill() },
		wait: func(cmd *exec.Cmd) (int, error) {
			waitErr := cmd.Wait()
			if waitErr == nil {
				return 0, nil
			}
			var ee *exec.ExitError
			if !errors.As(waitErr, &ee) {
				return -1, fmt.Errorf("wait: %w", waitErr)
			}
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok {
				return exitCode(ws), nil
			}
			return ee.ExitCode(), nil
		},
	}
}
