package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// killGrace is how long stage 1 gets to clean up after a cancel before it
// is killed outright.
const killGrace = 5 * time.Second

// namespaceExecutor runs steps in Linux namespaces as root.
type namespaceExecutor struct {
	tmpDir string
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

// initSpec is what the caller sends to stage 1 over its spec pipe.
type initSpec struct {
	RunDir     string   `json:"runDir"`
	RootMounts []Mount  `json:"rootMounts"`
	Mounts     []Mount  `json:"mounts,omitempty"`
	Args       []string `json:"args"`
	Env        []string `json:"env"`
	Cwd        string   `json:"cwd"`
	UID        uint32   `json:"uid"`
	GID        uint32   `json:"gid"`
	Groups     []uint32 `json:"groups,omitempty"`
	Hostname   string   `json:"hostname"`
	Network    string   `json:"network"`
	// CgroupProcs are the cgroup.procs files stage 2 joins just before it
	// execs the command (so the Go runtime of the init stages is not
	// counted against the pids limit).
	CgroupProcs []string `json:"cgroupProcs,omitempty"`
}

// initReport is what stage 1 sends back when it is done.
type initReport struct {
	Code  int    `json:"code"`
	Error string `json:"error,omitempty"`
}

func (e *namespaceExecutor) Run(ctx context.Context, spec Spec) error {
	is, err := e.initSpec(spec)
	if err != nil {
		return err
	}
	runDir, err := os.MkdirTemp(e.tmpDir, "exec-")
	if err != nil {
		return fmt.Errorf("create run dir: %w", err)
	}
	defer os.RemoveAll(runDir)
	is.RunDir = runDir

	cg, err := newCgroup(spec.Limits)
	if err != nil {
		return err
	}
	defer cg.remove()
	is.CgroupProcs = cg.procsFiles()

	rep, runErr := e.start(ctx, spec, is)
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
		RootMounts: spec.RootMounts, Mounts: spec.Mounts,
		Args: spec.Args, Env: env, Cwd: cwd,
		UID: spec.UID, GID: spec.GID, Groups: spec.Groups,
		Hostname: hostname, Network: network,
	}, nil
}

// start runs stage 1 to completion and returns its report.
func (e *namespaceExecutor) start(ctx context.Context, spec Spec, is *initSpec) (initReport, error) {
	var rep initReport
	specR, specW, err := os.Pipe()
	if err != nil {
		return rep, fmt.Errorf("create pipe: %w", err)
	}
	defer specR.Close()
	defer specW.Close()
	repR, repW, err := os.Pipe()
	if err != nil {
		return rep, fmt.Errorf("create pipe: %w", err)
	}
	defer repR.Close()
	defer repW.Close()

	flags := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC)
	if is.Network == NetworkNone {
		flags |= unix.CLONE_NEWNET
	}
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{stage1Name},
		Env:        []string{},
		Stdout:     spec.Stdout,
		Stderr:     spec.Stderr,
		ExtraFiles: []*os.File{specR, repW},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: flags,
			Pdeathsig:  syscall.SIGKILL,
			Setpgid:    true,
		},
		WaitDelay: killGrace,
	}

	// Pdeathsig follows the thread that started the child: keep this
	// goroutine on one locked thread until the child is gone.
	type result struct {
		rep initReport
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		r, err := runStage1(ctx, cmd, is, specW, repR, repW, specR)
		done <- result{r, err}
	}()
	res := <-done
	return res.rep, res.err
}

func runStage1(ctx context.Context, cmd *exec.Cmd, is *initSpec,
	specW, repR, repW, specR *os.File) (initReport, error) {
	var rep initReport
	if err := cmd.Start(); err != nil {
		return rep, fmt.Errorf("start init: %w", err)
	}
	specR.Close()
	repW.Close()

	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-time.After(killGrace):
				_ = cmd.Process.Kill()
			case <-stop:
			}
		case <-stop:
		}
	}()

	setupErr := json.NewEncoder(specW).Encode(is)
	specW.Close()
	if setupErr != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return rep, fmt.Errorf("start init: %w", setupErr)
	}
	data, readErr := io.ReadAll(repR)
	waitErr := cmd.Wait()
	if readErr != nil {
		return rep, fmt.Errorf("read init report: %w", readErr)
	}
	if len(data) == 0 {
		if waitErr != nil {
			return rep, fmt.Errorf("init failed: %w", waitErr)
		}
		return rep, errors.New("init failed: no report")
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return rep, fmt.Errorf("decode init report: %w", err)
	}
	return rep, nil
}
