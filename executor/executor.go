package executor

import (
	"context"
	"fmt"
	"io"

	"github.com/builderdev/builder/internal/mount"
	"github.com/builderdev/builder/internal/userns"
)

// Isolation names how strongly a RUN step is separated from the host.
type Isolation string

// Isolation levels, strongest first.
const (
	// Namespace uses mount, pid, uts, ipc (and net) namespaces; needs root.
	Namespace Isolation = "namespace"
	// Rootless does the same inside a user namespace.
	Rootless Isolation = "rootless"
	// Chroot only chroots into a copied root; needs CAP_SYS_CHROOT.
	Chroot Isolation = "chroot"
)

// Network modes for Spec.Network.
const (
	NetworkHost = "host"
	NetworkNone = "none"
)

// Security modes for Spec.Security (BuildKit's RUN --security values).
const (
	// SecuritySandbox (the default) runs the step with Docker's default
	// seccomp profile.
	SecuritySandbox = "sandbox"
	// SecurityInsecure runs the step without a seccomp filter.
	SecurityInsecure = "insecure"
)

// DefaultHostname is the hostname a step sees when Spec.Hostname is empty
// (the same as BuildKit's).
const DefaultHostname = "buildkitsandbox"

// Limits are the resource limits of one step; zero means unlimited.
type Limits struct {
	Memory int64   `json:"memory,omitempty"` // bytes
	CPUs   float64 `json:"cpus,omitempty"`   // fractional CPUs (CFS quota/period)
	Pids   int64   `json:"pids,omitempty"`   // max number of tasks
}

// Spec describes one process to run.
type Spec struct {
	// RootMounts build the root file system, in order (Target "" = root).
	RootMounts []mount.Mount
	// Args is the command; Args[0] is looked up in PATH from Env.
	Args []string
	// Env is exactly the environment of the process ("K=V").
	Env []string
	// Cwd is the working directory inside the root; created if missing.
	Cwd string
	// UID, GID and Groups (supplementary) are the process credentials.
	UID, GID uint32
	Groups   []uint32
	// Hostname defaults to DefaultHostname.
	Hostname string
	// Network is NetworkHost (default) or NetworkNone.
	Network string
	// Mounts are extra mounts inside the root (bind ro/rw, tmpfs).
	Mounts []mount.Mount
	// Stdout and Stderr receive the output; nil discards it.
	Stdout, Stderr io.Writer
	// Output, when set, receives stdout and stderr both, read from one
	// pipe, so that lines keep the order in which the step wrote them
	// (what `docker build` shows); Stdout and Stderr are then unused.
	// A step never gets a terminal: its stdin is /dev/null and it has no
	// controlling terminal.
	Output io.Writer
	// Limits are applied through cgroups (v1 or v2, per controller).
	Limits Limits
	// Security is SecuritySandbox ("" too) or SecurityInsecure. In the
	// sandbox the namespace and rootless levels install Docker's default
	// seccomp profile; the chroot level installs none (a pod's runtime
	// applies its own).
	Security string
}

// Executor runs one process per call.
type Executor interface {
	// Run runs spec to completion. A non-zero exit is an *ExitError; a
	// failure to set up the step is another error ("init failed: ...").
	Run(ctx context.Context, spec Spec) error
}

// ExitError reports a step that exited non-zero (or was killed).
type ExitError struct {
	Code int  // exit status, 128+signal when killed
	OOM  bool // killed because of the memory limit
}

func (e *ExitError) Error() string {
	if e.OOM {
		return fmt.Sprintf("exit code: %d (out of memory)", e.Code)
	}
	return fmt.Sprintf("exit code: %d", e.Code)
}

// Option configures New.
type Option func(*options)

type options struct {
	tmpDir string
}

// WithTmpDir sets the directory where per-run mount points and generated
// files (hosts, resolv.conf) are created, e.g. the store's tmp dir.
// Default: os.TempDir().
func WithTmpDir(dir string) Option {
	return func(o *options) { o.tmpDir = dir }
}

// New returns the executor for level.
func New(level Isolation, opts ...Option) (Executor, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	switch level {
	case Namespace:
		if userns.Inside() {
			return nil, fmt.Errorf("isolation %q needs root of the host's user namespace; this process runs in a user namespace: use %q", level, Rootless)
		}
		return newNamespace(o)
	case Chroot:
		return newChroot(o)
	case Rootless:
		return newRootless(o)
	default:
		return nil, fmt.Errorf("unknown isolation %q", level)
	}
}
