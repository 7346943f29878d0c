package executor

import (
	"errors"
	"fmt"
	"os"
	"path"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// chrootStage2 chroots into the root, drops privileges and execs the
// command. It only returns on error.
func chrootStage2() int {
	unix.CloseOnExec(specFD)
	unix.CloseOnExec(reportFD)
	errf := os.NewFile(reportFD, "error")
	err := runChrootStage2Init()
	// Only reached on failure: exec replaced us otherwise.
	fmt.Fprint(errf, err.Error())
	errf.Close()
	return 1
}

func runChrootStage2Init() error {
	// Capabilities are per thread: drop and exec from this one.
	runtime.LockOSThread()
	var s stage2Spec
	if err := readSpec(&s); err != nil {
		return err
	}
	// In a pod the bounding set is already Docker's; as root on a
	// machine it is cut down to it here.
	if err := dropBoundingCaps("/proc"); err != nil {
		return err
	}
	// Open the cgroups now: they are out of reach after chroot.
	var cgroups []*os.File
	for _, p := range s.CgroupProcs {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("open cgroup: %w", err)
		}
		cgroups = append(cgroups, f)
	}
	if err := unix.Chroot(s.Root); err != nil {
		return fmt.Errorf("chroot: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("enter root: %w", err)
	}
	cwd := path.Clean("/" + s.Cwd)
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		return fmt.Errorf("create working directory: %w", err)
	}
	if err := unix.Chdir(cwd); err != nil {
		return fmt.Errorf("change to working directory %s: %w", cwd, err)
	}
	argv0, err := lookPath(s.Args[0], s.Env)
	if err != nil {
		return err
	}
	groups := make([]int, len(s.Groups))
	for i, g := range s.Groups {
		groups[i] = int(g)
	}
	if err := syscall.Setgroups(groups); err != nil {
		return fmt.Errorf("set groups: %w", err)
	}
	if err := syscall.Setresgid(int(s.GID), int(s.GID), int(s.GID)); err != nil {
		return fmt.Errorf("set gid %d: %w", s.GID, err)
	}
	if err := syscall.Setresuid(int(s.UID), int(s.UID), int(s.UID)); err != nil {
		return fmt.Errorf("set uid %d: %w", s.UID, err)
	}
	// A credential change clears the parent-death signal: set it again.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("set parent death signal: %w", err)
	}
	unix.Umask(0o022)
	for _, f := range cgroups {
		if _, err := f.WriteString("0"); err != nil {
			return fmt.Errorf("join cgroup: %w", err)
		}
		f.Close()
	}
	if err := syscall.Exec(argv0, s.Args, s.Env); err != nil {
		return fmt.Errorf("exec %s: %w", s.Args[0], err)
	}
	return errors.New("exec returned")
}
