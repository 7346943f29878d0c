package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The steps shared by both isolation levels for starting a re-executed
// init process, and for running as one: only what differs between the
// levels (namespaces, how the root is entered, how the step's processes
// are waited for and killed) is in the level's own files.

// initChild is a re-executed process of this binary (an init or a stage 2)
// with its spec pipe (fd 3) and its report pipe (fd 4).
type initChild struct {
	cmd         *exec.Cmd
	specW, repR *os.File // our ends
	specR, repW *os.File // the child's ends, closed once it started
	output      *os.File // an output pipe's write end, closed once it started
}

// newInitChild creates the pipes and the command that runs argv0 with an
// empty environment and no stdin.
func newInitChild(argv0 string, stdout, stderr io.Writer, attr *syscall.SysProcAttr) (*initChild, error) {
	specR, specW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("create pipe: %w", err)
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		specR.Close()
		specW.Close()
		return nil, fmt.Errorf("create pipe: %w", err)
	}
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        []string{argv0},
		Env:         []string{},
		Stdout:      stdout,
		Stderr:      stderr,
		ExtraFiles:  []*os.File{specR, repW},
		SysProcAttr: attr,
	}
	return &initChild{cmd: cmd, specW: specW, repR: repR, specR: specR, repW: repW}, nil
}

// start starts the child and closes its ends of the pipes here.
func (c *initChild) start() error {
	if err := c.cmd.Start(); err != nil {
		return err
	}
	c.specR.Close()
	c.repW.Close()
	if c.output != nil {
		c.output.Close() // the child's now
	}
	return nil
}

// sendSpec writes v as JSON on the spec pipe and closes it.
func (c *initChild) sendSpec(v any) error {
	err := json.NewEncoder(c.specW).Encode(v)
	c.specW.Close()
	return err
}

// close closes every pipe end still open.
func (c *initChild) close() {
	for _, f := range []*os.File{c.specR, c.specW, c.repR, c.repW} {
		f.Close()
	}
}

// initPipes are an init's ends of its spec and report pipes, held for
// the whole init (an *os.File that nothing references closes its fd).
type initPipes struct{ spec, rep *os.File }

// beginInit starts an init (stage 1, the chroot init): its pipes close at
// exec, it stays on this thread (capabilities, the seccomp filter and
// stage 2's pdeathsig are per thread), and it reads its spec. The spec
// pipe stays open: stage 1 waits on it for the go-ahead.
func beginInit() (*initSpec, initPipes, error) {
	unix.CloseOnExec(specFD)
	unix.CloseOnExec(reportFD)
	runtime.LockOSThread()
	p := initPipes{spec: os.NewFile(specFD, "spec"), rep: os.NewFile(reportFD, "report")}
	var is initSpec
	if err := json.NewDecoder(p.spec).Decode(&is); err != nil {
		return nil, p, fmt.Errorf("read spec: %w", err)
	}
	return &is, p, nil
}

// report sends r to the caller.
func (p initPipes) report(r initReport) error {
	return json.NewEncoder(p.rep).Encode(r)
}

// fail reports err and returns the init's exit status.
func (p initPipes) fail(err error) int {
	_ = p.report(initReport{Code: -1, Error: err.Error()})
	return 1
}

// initMain is the body of an init that supervises a stage 2 (the chroot
// init; stage 1 for a fuse-overlayfs root): it runs run with the signals
// to forward and reports the exit code or error when it is done. It
// returns the process exit status.
func initMain(is *initSpec, p initPipes, run func(is *initSpec, sigs <-chan os.Signal) (int, error)) int {
	p.spec.Close()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	code, err := run(is, sigs)
	r := initReport{Code: code}
	if err != nil {
		r.Error = err.Error()
	}
	if err := p.report(r); err != nil {
		return 1
	}
	return 0
}

// stage2Runner is how an init starts its stage 2 and waits for the step.
type stage2Runner struct {
	argv0 string
	attr  *syscall.SysProcAttr
	// kill is called when the init gets a signal.
	kill func(cmd *exec.Cmd)
	// wait waits for the step and returns its exit code (128+n when
	// killed by signal n).
	wait func(cmd *exec.Cmd) (int, error)
}

// run starts stage 2, sends it s2 and waits for the step. A setup error
// that stage 2 reports comes first.
func (r stage2Runner) run(s2 *stage2Spec, sigs <-chan os.Signal) (int, error) {
	c, err := newInitChild(r.argv0, os.Stdout, os.Stderr, r.attr)
	if err != nil {
		return -1, err
	}
	defer c.close()
	if err := c.start(); err != nil {
		return -1, fmt.Errorf("start stage 2: %w", err)
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-sigs:
			r.kill(c.cmd)
		case <-done:
		}
	}()
	encErr := c.sendSpec(s2)
	msg, _ := io.ReadAll(c.repR)
	code, waitErr := r.wait(c.cmd)
	if len(msg) > 0 {
		return -1, errors.New(string(msg))
	}
	if encErr != nil {
		return -1, fmt.Errorf("send spec: %w", encErr)
	}
	return code, waitErr
}

// newStage2Spec is what an init sends to stage 2 for the root root.
func newStage2Spec(is *initSpec, root string) *stage2Spec {
	return &stage2Spec{Root: root, stepProcess: is.stepProcess}
}

// exitCode is the shell's exit code for a wait status: 128+n when killed
// by signal n.
func exitCode(ws syscall.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// startInit runs a level's init (argv0, started with attr) to completion
// under supervise and returns its report and its command.
func startInit(ctx context.Context, spec Spec, is *initSpec, argv0 string, attr *syscall.SysProcAttr,
	supervise func(context.Context, *initChild, *initSpec) (initReport, error)) (initReport, *exec.Cmd, error) {
	stdout, stderr := spec.Stdout, spec.Stderr
	if spec.Output != nil {
		out, err := newOutputPipe(spec.Output)
		if err != nil {
			return initReport{}, nil, err
		}
		defer out.wait()
		stdout, stderr = out.w, out.w
	}
	c, err := newInitChild(argv0, stdout, stderr, attr)
	if err != nil {
		return initReport{}, nil, err
	}
	defer c.close()
	if spec.Output != nil {
		c.output = stdout.(*os.File)
	}
	c.cmd.WaitDelay = killGrace

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
		r, err := supervise(ctx, c, is)
		done <- result{r, err}
	}()
	res := <-done
	return res.rep, c.cmd, res.err
}

// superviseInit starts an init that reports when it is done (the chroot
// init; stage 1 for a fuse-overlayfs root), sends it is and reads its
// report. When ctx is done the init gets SIGTERM, and SIGKILL after
// killGrace.
func superviseInit(ctx context.Context, c *initChild, is *initSpec) (initReport, error) {
	var rep initReport
	if err := c.start(); err != nil {
		return rep, fmt.Errorf("start init: %w", err)
	}
	cmd := c.cmd
	defer killOnCancel(ctx, cmd, killGrace)()

	if setupErr := c.sendSpec(is); setupErr != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return rep, fmt.Errorf("start init: %w", setupErr)
	}
	data, readErr := io.ReadAll(c.repR)
	waitErr := cmd.Wait()
	if readErr != nil {
		return rep, fmt.Errorf("read init report: %w", readErr)
	}
	if len(data) == 0 {
		return rep, noReport(waitErr)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		return rep, fmt.Errorf("decode init report: %w", err)
	}
	return rep, nil
}

// killOnCancel kills cmd when ctx is done, until the returned stop is
// called: with a grace, it gets SIGTERM first and SIGKILL after grace.
func killOnCancel(ctx context.Context, cmd *exec.Cmd, grace time.Duration) (stop func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			if grace > 0 {
				_ = cmd.Process.Signal(syscall.SIGTERM)
				select {
				case <-time.After(grace):
				case <-done:
					return
				}
			}
			_ = cmd.Process.Kill()
		case <-done:
		}
	}()
	return func() { close(done) }
}

// noReport is the error of an init that exited without a report.
func noReport(waitErr error) error {
	if waitErr != nil {
		return fmt.Errorf("init failed: %w", waitErr)
	}
	return errors.New("init failed: no report")
}

// superviseExec starts an init that becomes the step's command (stage 1,
// see there), sends it is, and once it reports ready holds its root open
// and lets it exec. It waits for the command, whose exit ends the step's
// namespaces and every process in them, and then removes the mount points
// the init made through the held root. When ctx is done the init (or the
// command) is killed: there is nothing for it to clean up, but stubs made
// before it was ready stay in the root, which a cancelled build discards.
func superviseExec(ctx context.Context, c *initChild, is *initSpec) (initReport, error) {
	var rep initReport
	if err := c.start(); err != nil {
		return rep, fmt.Errorf("start init: %w", err)
	}
	cmd := c.cmd
	defer killOnCancel(ctx, cmd, 0)()
	fail := func(err error) (initReport, error) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return rep, err
	}
	if err := json.NewEncoder(c.specW).Encode(is); err != nil {
		return fail(fmt.Errorf("start init: %w", err))
	}
	dec := json.NewDecoder(c.repR)
	if err := dec.Decode(&rep); err != nil {
		if errors.Is(err, io.EOF) {
			return rep, noReport(cmd.Wait())
		}
		return fail(fmt.Errorf("read init report: %w", err))
	}
	if !rep.Ready {
		_ = cmd.Wait()
		return rep, nil // a setup error, undone by the init
	}
	// The root stays reachable through this descriptor after the
	// namespaces are gone, detached from every mount point.
	root, err := unix.Open(fmt.Sprintf("/proc/%d/root", cmd.Process.Pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail(fmt.Errorf("open the step's root: %w", err))
	}
	// The last reference to the detached root: closing it frees the
	// mount (the dentries the step touched), which nothing waits for.
	defer func() { go unix.Close(root) }()
	c.specW.Close() // the go-ahead
	var late initReport
	lateErr := dec.Decode(&late) // EOF: the command replaced the init
	code, waitErr := waitStep(cmd)
	stubErr := removeStubsAt(root, rep.Stubs)
	switch {
	case lateErr == nil:
		return late, nil // the init failed after the go-ahead
	case !errors.Is(lateErr, io.EOF):
		return rep, fmt.Errorf("read init report: %w", lateErr)
	case waitErr != nil:
		return rep, waitErr
	case stubErr != nil:
		return rep, fmt.Errorf("clean up the root: %w", stubErr)
	}
	return initReport{Code: code}, nil
}
