package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Sample is what one measured build cost.
type Sample struct {
	// Wall is the elapsed time from start to exit of the child(ren).
	Wall time.Duration
	// MaxRSS is the peak resident set size in bytes: the largest of the
	// child and its waited-for descendants (Linux ru_maxrss semantics).
	MaxRSS int64
	// Work is the part of Wall spent in steps that really ran (cache misses),
	// as the tool reported them; -1 when the tool does not report it.
	Work time.Duration
	// Phases is where the wall time went (PhaseTimes), for tools that
	// report progress events; nil otherwise.
	Phases map[string]time.Duration
}

// Command is one child process to run.
type Command struct {
	Path string
	Args []string
	Env  []string // nil: the parent's environment
	Dir  string
}

func (c Command) String() string { return c.Path + " " + strings.Join(c.Args, " ") }

// RunError is a child that could not be started or exited non-zero.
type RunError struct {
	Cmd    string
	Code   int // -1 when it did not start or was killed
	Stderr string
}

func (e *RunError) Error() string {
	return fmt.Sprintf("run %s: exit %d: %s", e.Cmd, e.Code, lastLines(e.Stderr, 3))
}

// Exec runs c to completion and measures it. The child gets its own process
// group, killed as a whole when ctx ends. stdout is returned; stderr is kept
// for errors (and returned for progress parsing).
func Exec(ctx context.Context, c Command) (s Sample, stdout, stderr []byte, err error) {
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Env, cmd.Dir = c.Env, c.Dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	runErr := cmd.Run()
	s = Sample{Wall: time.Since(start), Work: -1}
	if ps := cmd.ProcessState; ps != nil {
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			s.MaxRSS = ru.Maxrss * 1024 // kilobytes on Linux
		}
	}
	if runErr != nil {
		code := -1
		var ee *exec.ExitError
		if errors.As(runErr, &ee) {
			code = ee.ExitCode()
		}
		if ctx.Err() != nil {
			return s, out.Bytes(), errb.Bytes(), fmt.Errorf("run %s: %w", c, ctx.Err())
		}
		return s, out.Bytes(), errb.Bytes(), &RunError{Cmd: c.String(), Code: code, Stderr: errb.String() + runErrText(runErr, code)}
	}
	return s, out.Bytes(), errb.Bytes(), nil
}

func runErrText(err error, code int) string {
	if code >= 0 {
		return ""
	}
	return "\n" + err.Error()
}

// Add combines two steps of one measurement (e.g. build, then export):
// times add up, the peak is the larger one, reported work adds up when
// both report it.
func (s Sample) Add(o Sample) Sample {
	r := Sample{Wall: s.Wall + o.Wall, MaxRSS: max(s.MaxRSS, o.MaxRSS), Work: -1, Phases: s.Phases}
	if s.Work >= 0 && o.Work >= 0 {
		r.Work = s.Work + o.Work
	}
	return r
}

// lastLines returns the last n non-empty lines of s joined by " | ".
func lastLines(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
