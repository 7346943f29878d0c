package executor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// stage2Spec is what stage 1 sends to stage 2.
type stage2Spec struct {
	Root   string   `json:"root"`
	Args   []string `json:"args"`
	Env    []string `json:"env"`
	Cwd    string   `json:"cwd"`
	UID    uint32   `json:"uid"`
	GID    uint32   `json:"gid"`
	Groups []uint32 `json:"groups,omitempty"`
	// CgroupProcs: see initSpec.
	CgroupProcs []string `json:"cgroupProcs,omitempty"`
}

// stage1 runs in new mount/uts/ipc(/net) namespaces: it prepares the root,
// runs stage 2, cleans up and reports. It returns the process exit status.
func stage1() int {
	unix.CloseOnExec(specFD)
	unix.CloseOnExec(reportFD)
	rep := os.NewFile(reportFD, "report")
	code, err := runStage1Init()
	r := initReport{Code: code}
	if err != nil {
		r.Error = err.Error()
	}
	if err := json.NewEncoder(rep).Encode(r); err != nil {
		return 1
	}
	rep.Close()
	return 0
}

func runStage1Init() (int, error) {
	// Stage 2's pdeathsig follows this thread.
	runtime.LockOSThread()
	var is initSpec
	if err := readSpec(&is); err != nil {
		return -1, err
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)

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
	setupErr := r.setup(&is)
	code := -1
	if setupErr == nil {
		code, setupErr = runStage2(&is, r.root, sigs)
	}
	if err := r.teardown(); err != nil && setupErr == nil {
		setupErr = err
	}
	return code, setupErr
}

// runStage2 starts stage 2 in new pid and mount namespaces and waits for
// it. A signal on sigs kills it (and with it the whole pid namespace).
func runStage2(is *initSpec, root string, sigs <-chan os.Signal) (int, error) {
	specR, specW, err := os.Pipe()
	if err != nil {
		return -1, fmt.Errorf("create pipe: %w", err)
	}
	defer specR.Close()
	defer specW.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		return -1, fmt.Errorf("create pipe: %w", err)
	}
	defer errR.Close()
	defer errW.Close()
	cmd := &exec.Cmd{
		Path:       "/proc/self/exe",
		Args:       []string{stage2Name},
		Env:        []string{},
		Stdin:      nil,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		ExtraFiles: []*os.File{specR, errW},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: unix.CLONE_NEWPID | unix.CLONE_NEWNS,
			Pdeathsig:  syscall.SIGKILL,
		},
	}
	if err := cmd.Start(); err != nil {
		return -1, fmt.Errorf("start stage 2: %w", err)
	}
	specR.Close()
	errW.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-sigs:
			_ = cmd.Process.Kill()
		case <-done:
		}
	}()
	s2 := stage2Spec{Root: root, Args: is.Args, Env: is.Env, Cwd: is.Cwd,
		UID: is.UID, GID: is.GID, Groups: is.Groups, CgroupProcs: is.CgroupProcs}
	encErr := json.NewEncoder(specW).Encode(&s2)
	specW.Close()
	msg, _ := io.ReadAll(errR)
	waitErr := cmd.Wait()
	if len(msg) > 0 {
		return -1, errors.New(string(msg))
	}
	if encErr != nil {
		return -1, fmt.Errorf("send spec: %w", encErr)
	}
	if waitErr == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if !errors.As(waitErr, &ee) {
		return -1, fmt.Errorf("wait: %w", waitErr)
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if ok && ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ee.ExitCode(), nil
}
