package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/mount"
)

// argv[0] values of the chroot level's re-executed processes.
const (
	chrootInitName   = "builder-init-chroot"
	chrootStage2Name = "builder-init-chroot2"
	chrootProbeName  = "builder-init-probe-chroot"
)

// chrootExecutor runs steps with chroot only: no namespaces, no mounts.
// It needs CAP_SYS_CHROOT (and CAP_SETUID/CAP_SETGID to change users),
// which an unprivileged Kubernetes pod has.
//
// What it cannot do, compared to the namespace level:
//   - the root must be one mount of type "bind" (the copy snapshotter's):
//     its Source is used directly as the chroot directory; overlay roots
//     are refused, since they cannot be mounted;
//   - /proc, /dev and /sys are not mounted: the step sees whatever the
//     image holds there (usually empty directories), plus the device
//     nodes null, zero, full, random, urandom and tty, made with mknod
//     where missing (and allowed) and removed afterwards;
//   - /etc/hosts and /etc/resolv.conf are written into the root only when
//     the image has none, and removed afterwards; an image's own files are
//     used as they are, so a step's change to them stays in its layer
//     (with Docker it does not);
//   - the hostname is the host's (no UTS namespace); the hosts file still
//     names Spec.Hostname;
//   - no network "none" (it needs a network namespace);
//   - no mounts: callers place RUN --mount content into the root
//     themselves (PlacesMounts); of Spec.Mounts only read-only binds of
//     single files work here: they are copied into the root for the step
//     and removed afterwards; anything else is refused;
//   - no pid namespace: the step's processes are tracked as descendants of
//     a small init (a child subreaper where allowed), by process group and
//     by their root directory (a sweep of every pid this process can see:
//     in a pod, the pod's own), and all are killed when the command exits
//     or ctx is cancelled;
//   - limits only where the cgroup file system is writable;
//   - a root process may break out of a chroot: this level isolates a
//     build from mistakes, not from hostile code (the pod is the boundary).
type chrootExecutor struct{}

var _ Executor = (*chrootExecutor)(nil)

// placer is implemented by executors that cannot mount: RUN --mount content
// must be put into the root by the caller before Run, and Spec.Mounts left
// empty (a root that is one plain bind directory).
type placer interface{ placesMounts() }

func (e *chrootExecutor) placesMounts() {}

// PlacesMounts reports whether e cannot mount, so that the caller places
// the content of RUN --mount at its target inside the root itself.
func PlacesMounts(e Executor) bool {
	_, ok := e.(placer)
	return ok
}

// Lacks lists what RUN steps cannot do at level compared to the namespace
// level, for the build to say at its start; nil when nothing is missing.
func Lacks(level Isolation) []string {
	if level != Chroot {
		return nil
	}
	return []string{
		"RUN --network=none (needs the namespace or rootless level)",
		"RUN --mount: content is placed in the root, not mounted (read-only binds are writable copies, tmpfs has no size limit)",
		"a private /proc, /dev and /sys",
		"a private hostname",
		"a seccomp filter of its own (the pod's applies)",
	}
}

func newChroot(o options) (*chrootExecutor, error) {
	return &chrootExecutor{}, nil
}

func (e *chrootExecutor) Run(ctx context.Context, spec Spec) error {
	is, err := chrootInitSpec(spec)
	if err != nil {
		return err
	}
	cg, err := newCgroup(spec.Limits)
	if err != nil {
		return fmt.Errorf("run: resource limits are not available at the chroot isolation level here: %w", err)
	}
	defer cg.remove()
	is.CgroupProcs = cg.procsFiles()

	rep, runErr := e.start(ctx, spec, is)
	return stepResult(ctx, spec, cg, rep, runErr)
}

// chrootInitSpec checks that spec can run at the chroot level.
func chrootInitSpec(spec Spec) (*initSpec, error) {
	if len(spec.Args) == 0 {
		return nil, errors.New("run: no command")
	}
	var root string
	for _, m := range spec.RootMounts {
		if m.Target != "" && m.Target != "/" {
			return nil, fmt.Errorf("run: mount at %s: RUN --mount needs the namespace isolation level", m.Target)
		}
		if root != "" {
			return nil, errors.New("run: the chroot isolation level needs exactly one root mount")
		}
		if m.Type != "bind" {
			return nil, fmt.Errorf("run: the chroot isolation level needs a bind root mount (a copy snapshot), not %q", m.Type)
		}
		if m.Source == "" {
			return nil, errors.New("run: root mount has no source")
		}
		root = m.Source
	}
	if root == "" {
		return nil, errors.New("run: no root mounts")
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("run: bind root: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("run: bind root %s is not a directory", root)
	}
	for _, m := range spec.Mounts {
		if err := chrootMountOK(m); err != nil {
			return nil, err
		}
	}
	switch spec.Network {
	case "", "default", NetworkHost:
	case NetworkNone:
		return nil, errors.New("run: RUN --network=none is not available at the chroot isolation level: it needs a network namespace, which the namespace and rootless levels have")
	default:
		return nil, fmt.Errorf("run: network %q is not supported", spec.Network)
	}
	switch spec.Security {
	case "", SecuritySandbox, SecurityInsecure:
	default:
		return nil, fmt.Errorf("run: security mode %q is not supported", spec.Security)
	}
	is := newInitSpec(spec, []mount.Mount{{Type: "bind", Source: root}}, NetworkHost)
	// No filter of our own: without CAP_SYS_ADMIN (a pod) one could only
	// be installed with no_new_privs, which Docker does not set; the pod's
	// runtime applies its profile to everything in the pod.
	is.Seccomp = false
	return is, nil
}

// chrootMountOK accepts the extra mounts the chroot level can emulate:
// read-only binds of a regular file.
func chrootMountOK(m mount.Mount) error {
	if m.Type == "bind" && slices.Contains(m.Options, "ro") {
		fi, err := os.Stat(m.Source)
		if err != nil {
			return fmt.Errorf("run: mount at %s: %w", m.Target, err)
		}
		if fi.Mode().IsRegular() {
			return nil
		}
	}
	return fmt.Errorf("run: mount at %s: RUN --mount needs the namespace isolation level", m.Target)
}

// start runs the chroot init to completion and returns its report.
func (e *chrootExecutor) start(ctx context.Context, spec Spec, is *initSpec) (initReport, error) {
	attr := &syscall.SysProcAttr{
		Pdeathsig: syscall.SIGKILL,
		// The init leads a session (so the step has no controlling
		// terminal) and a process group that holds the whole step.
		Setsid: true,
	}
	rep, cmd, err := startInit(ctx, spec, is, chrootInitName, attr, superviseInit)
	if (err != nil || ctx.Err() != nil) && cmd != nil && cmd.Process != nil {
		// The init did not finish cleanly: whatever is left of its
		// process group goes too.
		_ = unix.Kill(-cmd.Process.Pid, unix.SIGKILL)
	}
	return rep, err
}

// chrootWorks reports whether chroot works here: a child of this binary
// chroots into a tiny empty directory and exits.
func chrootWorks() error {
	dir, err := os.MkdirTemp("", "builder-probe-")
	if err != nil {
		return fmt.Errorf("create probe dir: %w", err)
	}
	defer os.RemoveAll(dir)
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        []string{chrootProbeName, dir},
		Env:         []string{},
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("chroot does not work here: %w: %s", err, out)
	}
	return nil
}

// chrootProbe is the probe child: it exits 0 if chroot works.
func chrootProbe() int {
	if len(os.Args) < 2 {
		return 2
	}
	if err := unix.Chroot(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "chroot: %v", err)
		return 1
	}
	return 0
}
