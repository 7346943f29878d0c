package executor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// defaultPath is used to find the command when Env has no PATH (as runc).
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// stage2 is PID 1 of the step's pid namespace under stage 1 for a
// fuse-overlayfs root: it mounts /proc, enters the root, drops privileges
// and execs the command. It only returns on error.
func stage2() int {
	mountProc := func(s *stage2Spec) error { return (&rootfs{root: s.Root}).mountProc() }
	return stage2Main(mountProc, enterRoot)
}

// mountProc mounts the step's /proc (of the calling process's pid
// namespace), masks it and cuts the bounding set down to Docker's.
func (r *rootfs) mountProc() error {
	proc := filepath.Join(r.root, "proc")
	if err := unix.Mount("proc", proc, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount proc: %w", err)
	}
	r.mounts = append(r.mounts, proc)
	if err := maskProc(proc); err != nil {
		return err
	}
	return dropBoundingCaps(proc)
}

// stage2Main is the body of a level's stage 2: prepare runs first, then
// the step's cgroups are opened, enter makes the root "/" and the command
// is run as the step's user. It reports a failure on the report fd and
// returns the process exit status; on success exec replaced it.
func stage2Main(prepare func(s *stage2Spec) error, enter func(root string) error) int {
	unix.CloseOnExec(specFD)
	unix.CloseOnExec(reportFD)
	errf := os.NewFile(reportFD, "error")
	err := runStage2(prepare, enter)
	// Only reached on failure: exec replaced us otherwise.
	fmt.Fprint(errf, err.Error())
	errf.Close()
	return 1
}

func runStage2(prepare func(s *stage2Spec) error, enter func(root string) error) error {
	// Capabilities are per thread: drop and exec from this one.
	runtime.LockOSThread()
	var s stage2Spec
	if err := readSpec(&s); err != nil {
		return err
	}
	if err := prepare(&s); err != nil {
		return err
	}
	// Open the cgroups now: they are out of reach once in the root.
	cgroups, err := openCgroups(s.CgroupProcs)
	if err != nil {
		return err
	}
	if err := enter(s.Root); err != nil {
		return err
	}
	return execStep(&s, cgroups)
}

// openCgroups opens the cgroup.procs files the step joins (execStep).
func openCgroups(procs []string) ([]*os.File, error) {
	var cgroups []*os.File
	for _, p := range procs {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			for _, f := range cgroups {
				f.Close()
			}
			return nil, fmt.Errorf("open cgroup: %w", err)
		}
		cgroups = append(cgroups, f)
	}
	return cgroups, nil
}

// mkdirOwned creates dir and its missing parents owned by uid:gid, as
// Docker creates a missing working directory for the step's user.
func mkdirOwned(dir string, uid, gid uint32) error {
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return &os.PathError{Op: "mkdir", Path: dir, Err: syscall.ENOTDIR}
		}
		return nil
	}
	if parent := path.Dir(dir); parent != dir {
		if err := mkdirOwned(parent, uid, gid); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil
		}
		return err
	}
	return os.Lchown(dir, int(uid), int(gid))
}

// execStep changes to the working directory, drops to the step's user,
// joins the cgroups and execs the command with exactly its environment.
func execStep(s *stage2Spec, cgroups []*os.File) error {
	cwd := path.Clean("/" + s.Cwd)
	if err := mkdirOwned(cwd, s.UID, s.GID); err != nil {
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
	// As Docker without no_new_privs: the filter goes on while we still
	// have CAP_SYS_ADMIN, before the credentials change; what follows up
	// to exec is allowed by it.
	if s.Seccomp {
		if err := loadDefaultSeccomp(); err != nil {
			return err
		}
	}
	if err := syscall.Setgroups(groups); err != nil {
		// A user namespace that maps one gid denies setgroups; it has
		// no other gid the groups could be anyway.
		if !errors.Is(err, syscall.EPERM) || !setgroupsDenied() {
			return fmt.Errorf("set groups: %w", err)
		}
	}
	if err := syscall.Setresgid(int(s.GID), int(s.GID), int(s.GID)); err != nil {
		return fmt.Errorf("set gid %d: %w%s", s.GID, err, unmappedHint(err))
	}
	if err := syscall.Setresuid(int(s.UID), int(s.UID), int(s.UID)); err != nil {
		return fmt.Errorf("set uid %d: %w%s", s.UID, err, unmappedHint(err))
	}
	// A credential change clears the parent-death signal: set it again.
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("set parent death signal: %w", err)
	}
	unix.Umask(0o022)
	// Join the step's cgroups last: the limits (pids!) then apply to the
	// command only, not to the Go runtime's threads started before.
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

// enterRoot makes root the process's "/" with pivot_root, detaching the old
// root; where pivot_root is impossible (initramfs) it falls back to chroot.
func enterRoot(root string) error {
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("enter root: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		if !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("pivot_root: %w", err)
		}
		if err := unix.Chroot("."); err != nil {
			return fmt.Errorf("chroot: %w", err)
		}
		return unix.Chdir("/")
	}
	// The old root is stacked on "."; detach it.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root slave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("enter root: %w", err)
	}
	return nil
}

// lookPath finds file in the PATH of env, inside the (new) root.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		if err := isExecutable(file); err != nil {
			return "", fmt.Errorf("exec: %q: %w", file, err)
		}
		return file, nil
	}
	p := defaultPath
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			p = v
		}
	}
	for _, dir := range strings.Split(p, ":") {
		if dir == "" {
			dir = "."
		}
		cand := path.Join(dir, file)
		if isExecutable(cand) == nil {
			return cand, nil
		}
	}
	return "", fmt.Errorf("exec: %q: executable file not found in $PATH", file)
}

func isExecutable(file string) error {
	fi, err := os.Stat(file)
	if err != nil {
		return err
	}
	if fi.IsDir() || fi.Mode()&0o111 == 0 {
		return os.ErrPermission
	}
	return nil
}

// setgroupsDenied reports whether this user namespace denies setgroups.
func setgroupsDenied() bool {
	data, err := os.ReadFile("/proc/self/setgroups")
	return err == nil && strings.TrimSpace(string(data)) == "deny"
}

// unmappedHint explains EINVAL from a credential change: the id is not
// mapped in this user namespace.
func unmappedHint(err error) string {
	if !errors.Is(err, syscall.EINVAL) {
		return ""
	}
	return " (the id is not mapped in this user namespace: give the user a range in /etc/subuid and /etc/subgid)"
}
