package executor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/mount"
)

// chrootInit is the init of a chroot-level step. It writes the missing
// /etc files, starts the chroot stage 2 (which execs the command), reaps
// every descendant, kills what is left when the command exits or on a
// signal, removes what it wrote and reports like stage 1.
func chrootInit() int {
	is, p, err := beginInit()
	if err != nil {
		return p.fail(err)
	}
	return initMain(is, p, runChrootInit)
}

func runChrootInit(is *initSpec, sigs <-chan os.Signal) (int, error) {
	if len(is.RootMounts) != 1 {
		return -1, errors.New("chroot init: need exactly one root")
	}
	// Orphans of the step become our children, so none escapes the kill
	// at the end. Not allowed everywhere: then the process group (and the
	// descendants still attached to us) is what we kill.
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

	r := &rootfs{root: is.RootMounts[0].Source}
	setupErr := provideEtc(r, is)
	if setupErr == nil {
		setupErr = provideDev(r)
	}
	if setupErr == nil {
		setupErr = provideFiles(r, is.Mounts)
	}
	code := -1
	if setupErr == nil {
		code, setupErr = chrootStage2Runner(r.root).run(newStage2Spec(is, r.root), sigs)
	}
	if err := removeStubs(r); err != nil && setupErr == nil {
		setupErr = err
	}
	return code, setupErr
}

// provideEtc writes /etc/hosts and /etc/resolv.conf into the root where
// the image has none (symlinks are resolved inside the root), recording
// every file and directory it creates as a stub.
func provideEtc(r *rootfs, is *initSpec) error {
	files := []struct {
		name string
		data []byte
	}{
		{"/etc/hosts", hostsFile(is.Hostname)},
		{"/etc/resolv.conf", resolvConf(hostResolvConf())},
	}
	for _, f := range files {
		before := len(r.stubs)
		host, err := r.ensure(f.name, stubFile)
		if err != nil {
			return fmt.Errorf("provide %s: %w", f.name, err)
		}
		n := len(r.stubs)
		if n == before || r.stubs[n-1].path != host {
			continue // the image has its own
		}
		if err := os.WriteFile(host, f.data, 0o644); err != nil {
			return fmt.Errorf("provide %s: %w", f.name, err)
		}
		if err := os.Chmod(host, 0o644); err != nil {
			return fmt.Errorf("provide %s: %w", f.name, err)
		}
	}
	return nil
}

// devNodes are the device nodes a step gets in /dev when the image has
// none (Docker's default devices that need no /proc).
func devNodes() []devNode {
	return []devNode{
		{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
		{"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
	}
}

type devNode struct {
	name         string
	major, minor uint32
}

// provideDev creates the usual character devices in /dev where missing,
// with mknod (CAP_MKNOD is one of Docker's default capabilities, and the
// device cgroup of a container allows exactly these). Where mknod is not
// allowed the step sees /dev as the image has it.
func provideDev(r *rootfs) error {
	dev, err := r.ensure("/dev", stubDir)
	if err != nil {
		return fmt.Errorf("provide /dev: %w", err)
	}
	for _, d := range devNodes() {
		p := dev + "/" + d.name
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			continue
		}
		var st unix.Stat_t
		if err := unix.Stat(dev, &st); err != nil {
			return fmt.Errorf("provide /dev: %w", err)
		}
		if err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(d.major, d.minor))); err != nil {
			if errors.Is(err, unix.EPERM) || errors.Is(err, unix.EACCES) {
				break
			}
			return fmt.Errorf("provide /dev/%s: %w", d.name, err)
		}
		r.stubs = append(r.stubs, stub{path: p,
			atime: time.Unix(st.Atim.Unix()), mtime: time.Unix(st.Mtim.Unix())})
		if err := unix.Chmod(p, 0o666); err != nil {
			return fmt.Errorf("provide /dev/%s: %w", d.name, err)
		}
	}
	return nil
}

// provideFiles copies each read-only file bind into the root at its
// target, which must not exist yet (nothing can be covered without a
// mount).
func provideFiles(r *rootfs, mounts []mount.Mount) error {
	for _, m := range mounts {
		fi, err := os.Stat(m.Source)
		if err != nil {
			return fmt.Errorf("mount %s: %w", m.Target, err)
		}
		data, err := os.ReadFile(m.Source)
		if err != nil {
			return fmt.Errorf("mount %s: %w", m.Target, err)
		}
		before := len(r.stubs)
		host, err := r.ensure(m.Target, stubFile)
		if err != nil {
			return fmt.Errorf("mount %s: %w", m.Target, err)
		}
		if n := len(r.stubs); n == before || r.stubs[n-1].path != host {
			return fmt.Errorf("mount %s: the target exists and the chroot isolation level cannot cover it", m.Target)
		}
		if err := os.WriteFile(host, data, 0o600); err != nil {
			return fmt.Errorf("mount %s: %w", m.Target, err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			if err := os.Lchown(host, int(st.Uid), int(st.Gid)); err != nil {
				return fmt.Errorf("mount %s: %w", m.Target, err)
			}
		}
		if err := os.Chmod(host, fi.Mode().Perm()); err != nil {
			return fmt.Errorf("mount %s: %w", m.Target, err)
		}
	}
	return nil
}

// chrootStage2Runner starts stage 2 and reaps every child until none is
// left. When the command exits, or a signal arrives, every remaining
// descendant, member of our process group and process whose root is the
// step's root is killed.
func chrootStage2Runner(root string) stage2Runner {
	if real, err := filepath.EvalSymlinks(root); err == nil {
		root = real // as /proc/PID/root shows it
	}
	return stage2Runner{
		argv0: chrootStage2Name,
		attr:  &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
		kill:  func(*exec.Cmd) { killStep(root) },
		wait:  func(cmd *exec.Cmd) (int, error) { return reapStep(cmd, root) },
	}
}

// reapStep reaps every child until none is left, killing the rest of the
// step once the command (cmd) has exited, and returns its exit code.
func reapStep(cmd *exec.Cmd, root string) (int, error) {
	mainPid := cmd.Process.Pid
	var status unix.WaitStatus
	mainDone := false
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			break // ECHILD: nothing left
		}
		if pid == mainPid {
			status, mainDone = ws, true
		}
		if mainDone {
			// As when the pid 1 of a container exits: the rest goes.
			killStep(root)
		}
	}
	// No descendant of ours can be left now; group members that were
	// reparented elsewhere (no subreaper) get a last kill.
	killStep(root)
	if !mainDone {
		return -1, errors.New("stage 2 vanished")
	}
	return exitCode(syscall.WaitStatus(status)), nil
}

// killStep SIGKILLs every process that descends from this one, belongs
// to its process group or runs inside root (except this process), until
// none is found. It does not wait: the reaper loop does.
func killStep(root string) {
	self := os.Getpid()
	pgid := unix.Getpgrp()
	for try := 0; try < 100; try++ {
		victims := stepProcesses(self, pgid, root)
		if len(victims) == 0 {
			return
		}
		for _, pid := range victims {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// stepProcesses lists the live processes descending from self, in process
// group pgid or whose root directory is root (or below it), self excluded:
// a step that daemonizes (setsid, double fork) and whose orphans were not
// reparented to us is still found by its root, in a sweep of every pid
// visible here (in a pod: the pod's own). Zombies are skipped (already
// dead).
func stepProcesses(self, pgid int, root string) []int {
	type proc struct{ ppid, pgid int }
	procs := map[int]proc{}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil // no /proc: the caller kills the process group at the end
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		data, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(data), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(data[i+1:]))
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		pg, _ := strconv.Atoi(f[2])
		procs[pid] = proc{ppid, pg}
	}
	var out []int
	for pid, p := range procs {
		if pid == self {
			continue
		}
		if p.pgid == pgid || insideRoot(pid, root) {
			out = append(out, pid)
			continue
		}
		// Walk up the parents (bounded: pid loops cannot happen, but be safe).
		for cur, n := p.ppid, 0; cur > 1 && n < 4096; n++ {
			if cur == self {
				out = append(out, pid)
				break
			}
			q, ok := procs[cur]
			if !ok {
				break
			}
			cur = q.ppid
		}
	}
	return out
}

// insideRoot reports whether the root directory of process pid is root or
// a directory below it.
func insideRoot(pid int, root string) bool {
	if root == "" || root == "/" {
		return false
	}
	l, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/root")
	if err != nil {
		return false
	}
	return l == root || strings.HasPrefix(l, root+"/")
}
