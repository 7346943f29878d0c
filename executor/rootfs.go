package executor

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/fsroot"
	"github.com/builderdev/builder/internal/mount"
	"github.com/builderdev/builder/internal/userns"
)

// rootfs is the root stage 1 assembles, and what it must undo.
type rootfs struct {
	runDir     string
	root       string   // host path of the root mount point
	rootMounts []string // mounted at the root, in order
	mounts     []string // mounted inside the root, in order
	stubs      []stub   // mount points created in the root, in order
}

// stub is a file or directory created only to mount on (its host path),
// and the times its parent directory had before.
type stub struct {
	path         string
	atime, mtime time.Time
}

type stubKind int

const (
	stubDir stubKind = iota
	stubFile
)

func (r *rootfs) setup(is *initSpec) error {
	r.root = filepath.Join(r.runDir, "root")
	if err := os.Mkdir(r.root, 0o755); err != nil {
		return fmt.Errorf("create root: %w", err)
	}
	for _, m := range is.RootMounts {
		if m.Target != "" && m.Target != "/" {
			continue
		}
		if err := mountOne(m, r.root); err != nil {
			return err
		}
		r.rootMounts = append(r.rootMounts, r.root)
	}
	for _, m := range is.RootMounts {
		if m.Target == "" || m.Target == "/" {
			continue
		}
		if err := r.mountAt(m, stubDir); err != nil {
			return err
		}
	}
	if _, err := r.ensure("/proc", stubDir); err != nil {
		return err
	}
	if err := r.setupDev(); err != nil {
		return err
	}
	if err := r.setupSys(); err != nil {
		return err
	}
	hosts := filepath.Join(r.runDir, "hosts")
	if err := os.WriteFile(hosts, hostsFile(is.Hostname), 0o644); err != nil {
		return fmt.Errorf("write hosts: %w", err)
	}
	resolv := filepath.Join(r.runDir, "resolv.conf")
	if err := os.WriteFile(resolv, resolvConf(hostResolvConf()), 0o644); err != nil {
		return fmt.Errorf("write resolv.conf: %w", err)
	}
	// Read-only, as BuildKit binds them: a step's write would be lost anyway.
	for _, f := range []struct{ src, dst string }{{hosts, "/etc/hosts"}, {resolv, "/etc/resolv.conf"}} {
		if err := r.mountAt(mount.Mount{Type: "bind", Source: f.src, Target: f.dst, Options: []string{"ro", "nosuid", "nodev", "noexec"}}, stubFile); err != nil {
			return err
		}
	}
	for _, m := range is.Mounts {
		kind := stubDir
		if m.Type == "bind" {
			fi, err := os.Stat(m.Source)
			if err != nil {
				return fmt.Errorf("mount %s: %w", m.Target, err)
			}
			if !fi.IsDir() {
				kind = stubFile
			}
		}
		if err := r.mountAt(m, kind); err != nil {
			return err
		}
	}
	return nil
}

// mountAt mounts m at its target inside the root, creating a stub if needed.
func (r *rootfs) mountAt(m mount.Mount, kind stubKind) error {
	target, err := r.ensure(m.Target, kind)
	if err != nil {
		return err
	}
	if err := mountOne(m, target); err != nil {
		return err
	}
	r.mounts = append(r.mounts, target)
	return nil
}

// setupDev mounts a minimal /dev: a tmpfs with the usual device nodes bound
// from the host, a private devpts, /dev/shm, /dev/mqueue and the fd
// symlinks.
func (r *rootfs) setupDev() error {
	dev, err := r.ensure("/dev", stubDir)
	if err != nil {
		return err
	}
	if err := unix.Mount("tmpfs", dev, "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k"); err != nil {
		return fmt.Errorf("mount /dev: %w", err)
	}
	r.mounts = append(r.mounts, dev)
	for _, name := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		p := filepath.Join(dev, name)
		if err := os.WriteFile(p, nil, 0o666); err != nil {
			return fmt.Errorf("create /dev/%s: %w", name, err)
		}
		if err := unix.Mount("/dev/"+name, p, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("mount /dev/%s: %w", name, err)
		}
		r.mounts = append(r.mounts, p)
	}
	pts := filepath.Join(dev, "pts")
	if err := os.Mkdir(pts, 0o755); err != nil {
		return fmt.Errorf("create /dev/pts: %w", err)
	}
	ptsOpts := "newinstance,ptmxmode=0666,mode=0620"
	err = unix.Mount("devpts", pts, "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, ptsOpts+",gid=5")
	if errors.Is(err, unix.EINVAL) {
		// A user namespace that maps only one gid has no gid 5 (tty).
		err = unix.Mount("devpts", pts, "devpts", unix.MS_NOSUID|unix.MS_NOEXEC, ptsOpts)
	}
	if err != nil {
		return fmt.Errorf("mount /dev/pts: %w", err)
	}
	r.mounts = append(r.mounts, pts)
	shm := filepath.Join(dev, "shm")
	if err := os.Mkdir(shm, 0o1777); err != nil {
		return fmt.Errorf("create /dev/shm: %w", err)
	}
	if err := unix.Mount("shm", shm, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC,
		"mode=1777,size=65536k"); err != nil {
		return fmt.Errorf("mount /dev/shm: %w", err)
	}
	r.mounts = append(r.mounts, shm)
	// The step's own POSIX message queues (its IPC namespace), as
	// containerd's default mounts give.
	mqueue := filepath.Join(dev, "mqueue")
	if err := os.Mkdir(mqueue, 0o755); err != nil {
		return fmt.Errorf("create /dev/mqueue: %w", err)
	}
	// A kernel without mqueue (ENODEV) or a sandbox that forbids it gets
	// the empty directory: no step needs the queues to start.
	err = unix.Mount("mqueue", mqueue, "mqueue", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	switch {
	case err == nil:
		r.mounts = append(r.mounts, mqueue)
	case !errors.Is(err, unix.ENODEV) && !errors.Is(err, unix.EPERM):
		return fmt.Errorf("mount /dev/mqueue: %w", err)
	}
	for name, target := range map[string]string{
		"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
		"stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2", "core": "/proc/kcore",
	} {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil {
			return fmt.Errorf("create /dev/%s: %w", name, err)
		}
	}
	return nil
}

// setupSys mounts a read-only sysfs at /sys, as Docker does.
func (r *rootfs) setupSys() error {
	sys, err := r.ensure("/sys", stubDir)
	if err != nil {
		return err
	}
	flags := uintptr(unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if err := unix.Mount("sysfs", sys, "sysfs", flags, ""); err != nil {
		if !errors.Is(err, unix.EPERM) || !userns.Inside() {
			return fmt.Errorf("mount /sys: %w", err)
		}
		// Root of a user namespace may mount sysfs only in a network
		// namespace of its own: with the host network, bind the host's
		// (read-only, as rootless Docker does).
		if err := mountOne(mount.Mount{Type: "bind", Source: "/sys", Target: "/sys",
			Options: []string{"rbind", "ro", "nosuid", "nodev", "noexec"}}, sys); err != nil {
			return fmt.Errorf("mount /sys: %w", err)
		}
	}
	r.mounts = append(r.mounts, sys)
	firmware := filepath.Join(sys, "firmware")
	if err := maskPath(firmware); err != nil {
		return err
	}
	if _, err := os.Stat(firmware); err == nil {
		r.mounts = append(r.mounts, firmware)
	}
	return nil
}

// teardown unmounts what was mounted over the root, removes the stubs
// (restoring their parents' times) and unmounts the root.
func (r *rootfs) teardown() error {
	var errs []error
	for i := len(r.mounts) - 1; i >= 0; i-- {
		if err := unmount(r.mounts[i]); err != nil {
			errs = append(errs, err)
		}
	}
	// A stub made inside a mount of ours (a /dev/pipes script on the /dev
	// tmpfs) went away with that mount: nothing to restore.
	if err := removeStubs(r); err != nil {
		errs = append(errs, err)
	}
	for i := len(r.rootMounts) - 1; i >= 0; i-- {
		if err := unmount(r.rootMounts[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func unmount(p string) error {
	err := unix.Unmount(p, unix.MNT_DETACH)
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return fmt.Errorf("unmount %s: %w", p, err)
}

// removeStubs removes the stubs of r below its root (see removeStubsAt).
func removeStubs(r *rootfs) error {
	if len(r.stubs) == 0 {
		return nil
	}
	root, err := unix.Open(r.root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("remove mount points: %w", err)
	}
	defer unix.Close(root)
	err = removeStubsAt(root, r.records())
	r.stubs = nil
	return err
}

// stubRecord is a stub as removeStubsAt takes it: its path relative to
// the root, and its parent directory's times (ns) from before it.
type stubRecord struct {
	Path  string `json:"path"`
	ATime int64  `json:"atime"`
	MTime int64  `json:"mtime"`
}

// records are r's stubs relative to its root, oldest first.
func (r *rootfs) records() []stubRecord {
	out := make([]stubRecord, 0, len(r.stubs))
	for _, s := range r.stubs {
		rel, ok := strings.CutPrefix(s.path, r.root+"/")
		if !ok {
			continue
		}
		out = append(out, stubRecord{Path: rel, ATime: s.atime.UnixNano(), MTime: s.mtime.UnixNano()})
	}
	return out
}

// removeStubsAt removes the mount points and files made for a step below
// the root directory root, newest first, restoring the times of their
// parent directories. The step may have changed the root meanwhile: a
// stub is only touched while no directory on its way is a symlink now (so
// nothing outside the root is reached, whoever's root it is), a directory
// the step wrote into is kept, and one the step replaced is left alone.
// Nothing may run in the root meanwhile.
func removeStubsAt(root int, stubs []stubRecord) error {
	var errs []error
	for i := len(stubs) - 1; i >= 0; i-- {
		s := stubs[i]
		dir, base := path.Split(s.Path)
		parent, err := fsroot.OpenDirNoSymlinks(root, dir)
		if err != nil {
			continue // a directory on the way is gone or a symlink now
		}
		if err := removeStub(parent, base, s); err != nil {
			errs = append(errs, fmt.Errorf("remove /%s: %w", s.Path, err))
		}
		unix.Close(parent)
	}
	return errors.Join(errs...)
}

// removeStub removes base from the directory parent unless the step made
// it a symlink or wrote into it, and restores parent's times.
func removeStub(parent int, base string, s stubRecord) error {
	var st unix.Stat_t
	if err := unix.Fstatat(parent, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return err
	}
	flags := 0
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFLNK:
		return nil
	case unix.S_IFDIR:
		flags = unix.AT_REMOVEDIR
	}
	if err := unix.Unlinkat(parent, base, flags); err != nil {
		if errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) {
			return nil // the step put files there: keep it, and its time
		}
		return err
	}
	ts := []unix.Timespec{unix.NsecToTimespec(s.ATime), unix.NsecToTimespec(s.MTime)}
	if err := unix.UtimesNanoAt(parent, ".", ts, 0); err != nil {
		return fmt.Errorf("restore times: %w", err)
	}
	return nil
}

// ensure resolves name (a path inside the root) following symlinks as if
// the root were "/" (fsroot), creates what is missing (recording stubs) and
// returns the host path. Nothing outside the root is ever reached.
func (r *rootfs) ensure(name string, kind stubKind) (string, error) {
	root, err := fsroot.Open(r.root)
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", name, err)
	}
	defer root.Close()
	clean := strings.Trim(path.Clean("/"+name), "/")
	resolved, err := fsroot.Resolve(root, clean, fsroot.OnMissing(func(next string, last bool) error {
		if err := r.createStub(filepath.Join(r.root, next), kind == stubFile && last); err != nil {
			return fmt.Errorf("create mount point /%s: %w", next, err)
		}
		return nil
	}))
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", name, err)
	}
	return filepath.Join(r.root, resolved), nil
}

func (r *rootfs) createStub(host string, file bool) error {
	parent := filepath.Dir(host)
	var st unix.Stat_t
	if err := unix.Stat(parent, &st); err != nil {
		return err
	}
	if file {
		f, err := os.OpenFile(host, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	} else if err := os.Mkdir(host, 0o755); err != nil {
		return err
	}
	r.stubs = append(r.stubs, stub{
		path:  host,
		atime: time.Unix(st.Atim.Unix()),
		mtime: time.Unix(st.Mtim.Unix()),
	})
	return nil
}
