package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/mount"
	"github.com/builderdev/builder/internal/procowner"
)

// killGrace is how long stage 1 gets to clean up after a cancel before it
// is killed outright.
const killGrace = 5 * time.Second

// namespaceExecutor runs steps in Linux namespaces as root.
type namespaceExecutor struct {
	tmpDir   string
	rootless bool // root of a user namespace (the rootless level)
}

var _ Executor = (*namespaceExecutor)(nil)

func newNamespace(o options) (*namespaceExecutor, error) {
	dir := o.tmpDir
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create tmp dir: %w", err)
	}
	return &namespaceExecutor{tmpDir: dir}, nil
}

// initSpec is what the caller sends to a level's init (stage 1, the
// chroot init) over its spec pipe.
type initSpec struct {
	RunDir     string        `json:"runDir"`
	RootMounts []mount.Mount `json:"rootMounts"`
	Mounts     []mount.Mount `json:"mounts,omitempty"`
	Hostname   string        `json:"hostname"`
	Network    string        `json:"network"`
	stepProcess
}

// stepProcess is the step's command as stage 2 runs it, passed on from
// the init to stage 2 (its JSON fields are inlined in both specs).
type stepProcess struct {
	Args   []string `json:"args"`
	Env    []string `json:"env"`
	Cwd    string   `json:"cwd"`
	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Groups []uint32 `json:"groups,omitempty"`
	// CgroupProcs are the cgroup.procs files stage 2 joins just before it
	// execs the command (so the Go runtime of the init stages is not
	// counted against the pids limit).
	CgroupProcs []string `json:"cgroupProcs,omitempty"`
	// Seccomp installs Docker's default seccomp profile right before the
	// command's credentials are set and it is exec'd.
	Seccomp bool `json:"seccomp,omitempty"`
}

// initReport is what an init sends back: when it is done (code or
// error), or, for stage 1 that execs the command, when it is ready (with
// the mount points it made) or has failed.
type initReport struct {
	Code  int          `json:"code"`
	Error string       `json:"error,omitempty"`
	Ready bool         `json:"ready,omitempty"`
	Stubs []stubRecord `json:"stubs,omitempty"`
}

func (e *namespaceExecutor) Run(ctx context.Context, spec Spec) error {
	is, err := e.initSpec(spec)
	if err != nil {
		return err
	}
	// Named after this process, so that the store sweeps it when a killed
	// build could not remove it (procowner).
	runDir, err := os.MkdirTemp(e.tmpDir, procowner.Tag()+"exec-")
	if err != nil {
		return fmt.Errorf("create run dir: %w", err)
	}
	defer os.RemoveAll(runDir)
	is.RunDir = runDir

	newCg := newCgroup
	if e.rootless {
		newCg = rootlessCgroup
	}
	cg, err := newCg(spec.Limits)
	if err != nil {
		return err
	}
	defer cg.remove()
	is.CgroupProcs = cg.procsFiles()

	supervise := superviseExec
	if is.fuseRoot() {
		supervise = superviseInit
	}
	rep, _, runErr := startInit(ctx, spec, is, stage1Name, stage1Attr(is), supervise)
	return stepResult(ctx, spec, cg, rep, runErr)
}

func (e *namespaceExecutor) initSpec(spec Spec) (*initSpec, error) {
	if len(spec.Args) == 0 {
		return nil, errors.New("run: no command")
	}
	if len(spec.RootMounts) == 0 {
		return nil, errors.New("run: no root mounts")
	}
	network := spec.Network
	switch network {
	case "", "default":
		network = NetworkHost
	case NetworkHost, NetworkNone:
	default:
		return nil, fmt.Errorf("run: network %q is not supported", network)
	}
	switch spec.Security {
	case "", SecuritySandbox, SecurityInsecure:
	default:
		return nil, fmt.Errorf("run: security mode %q is not supported", spec.Security)
	}
	return newInitSpec(spec, spec.RootMounts, network), nil
}

// newInitSpec is the init spec of spec with the defaults filled in, for
// the given root mounts and network.
func newInitSpec(spec Spec, roots []mount.Mount, network string) *initSpec {
	hostname := spec.Hostname
	if hostname == "" {
		hostname = DefaultHostname
	}
	cwd := spec.Cwd
	if cwd == "" {
		cwd = "/"
	}
	env := spec.Env
	if env == nil {
		env = []string{}
	}
	return &initSpec{
		RootMounts: roots, Mounts: spec.Mounts,
		Hostname: hostname, Network: network,
		stepProcess: stepProcess{Args: spec.Args, Env: env, Cwd: cwd,
			UID: spec.UID, GID: spec.GID, Groups: spec.Groups,
			Seccomp: spec.Security != SecurityInsecure},
	}
}

// stepResult turns what a level's init reported into Run's error.
func stepResult(ctx context.Context, spec Spec, cg *cgroup, rep initReport, runErr error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("run %s: %w", spec.Args[0], ctx.Err())
	}
	if runErr != nil {
		return runErr
	}
	if rep.Error != "" {
		return fmt.Errorf("init failed: %s", rep.Error)
	}
	if rep.Code != 0 {
		return &ExitError{Code: rep.Code, OOM: cg.oomKilled()}
	}
	return nil
}

// stage1Attr: stage 1 runs in new mount, pid (but for a fuse-overlayfs
// root), uts and ipc (and net) namespaces and leads a session (no
// controlling terminal) and a process group.
func stage1Attr(is *initSpec) *syscall.SysProcAttr {
	flags := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC)
	if !is.fuseRoot() {
		flags |= unix.CLONE_NEWPID
	}
	if is.Network == NetworkNone {
		flags |= unix.CLONE_NEWNET
	}
	return &syscall.SysProcAttr{
		Cloneflags: flags,
		Pdeathsig:  syscall.SIGKILL,
		Setsid:     true, // no controlling terminal: a step sees no tty
	}
}
