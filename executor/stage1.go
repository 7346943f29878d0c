package executor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/mount"
)

// stage2Spec is what stage 1 sends to stage 2.
type stage2Spec struct {
	Root string `json:"root"`
	stepProcess
}

// stage1 is the namespace level's init (also the rootless level's). It is
// PID 1 of new pid, mount, uts and ipc (and net) namespaces: it assembles
// the root, mounts /proc, enters the root, reports ready with the mount
// points it created, and on the caller's go-ahead execs the command in its
// own place, which so is PID 1 as in Docker. One start of this binary per
// step: when the command exits, the kernel kills what it left running and
// the namespaces end, unmounting everything; the caller, which holds the
// root open, removes the mount points (superviseExec).
//
// A root served by fuse-overlayfs is the exception (fuseRoot): its daemon
// must outlive the step's processes, which it would not inside their pid
// namespace. There stage 1 stays outside it, runs stage 2 in it, and
// cleans up itself (runStage1Init).
func stage1() int {
	is, p, err := beginInit()
	if err != nil {
		return p.fail(err)
	}
	if is.fuseRoot() {
		return initMain(is, p, runStage1Init)
	}
	return p.fail(execInit(is, p))
}

// fuseRoot reports whether a root mount is served by fuse-overlayfs.
func (is *initSpec) fuseRoot() bool {
	for _, m := range is.RootMounts {
		if m.Type == mount.FuseOverlay {
			return true
		}
	}
	return false
}

// namespaceInit makes the init's mounts private and sets its hostname
// and, for network "none", its loopback.
func namespaceInit(is *initSpec) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if err := unix.Sethostname([]byte(is.Hostname)); err != nil {
		return fmt.Errorf("set hostname: %w", err)
	}
	if is.Network == NetworkNone {
		return loopbackUp()
	}
	return nil
}

// execInit sets the step up and execs its command; it only returns on
// error. Until the root is entered, a failure undoes the setup here;
// after, the caller removes the mount points.
func execInit(is *initSpec, p initPipes) error {
	if err := namespaceInit(is); err != nil {
		return err
	}
	r := &rootfs{runDir: is.RunDir}
	var cgroups []*os.File
	err := r.setup(is)
	if err == nil {
		err = r.mountProc()
	}
	if err == nil {
		cgroups, err = openCgroups(is.CgroupProcs)
	}
	if err == nil {
		err = enterRoot(r.root)
	}
	if err != nil {
		return errors.Join(err, r.teardown())
	}
	if err := p.report(initReport{Ready: true, Stubs: r.records()}); err != nil {
		return fmt.Errorf("report ready: %w", err)
	}
	// The go-ahead: the caller closes the spec pipe once it holds the root.
	if _, err := io.Copy(io.Discard, p.spec); err != nil {
		return fmt.Errorf("wait for the go-ahead: %w", err)
	}
	p.spec.Close()
	return execStep(newStage2Spec(is, r.root), cgroups)
}

// runStage1Init is stage 1 for a fuse-overlayfs root: it runs in new
// mount/uts/ipc(/net) namespaces, prepares the root, runs stage 2 in a
// pid namespace of its own, cleans up and reports.
func runStage1Init(is *initSpec, sigs <-chan os.Signal) (int, error) {
	if err := namespaceInit(is); err != nil {
		return -1, err
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
		wait: waitStep,
	}
}

// waitStep waits for the step's PID 1 and returns its exit code (128+n
// when killed by signal n).
func waitStep(cmd *exec.Cmd) (int, error) {
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
}
