package executor

import (
	"fmt"
	"io"
	"os"
	"time"
)

// outputPipe is the one pipe a step's stdout and stderr are both written
// to (Spec.Output): a single reader sees the bytes in the order the step
// wrote them, which two pipes read by two goroutines cannot promise.
type outputPipe struct {
	r    *os.File
	w    *os.File // the write end, given to the init as fds 1 and 2
	done chan struct{}
}

// newOutputPipe makes the pipe and starts copying what comes out of it to
// dst.
func newOutputPipe(dst io.Writer) (*outputPipe, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("create output pipe: %w", err)
	}
	p := &outputPipe{r: r, w: w, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		_, _ = io.Copy(dst, r)
	}()
	return p, nil
}

// wait returns once everything written to the pipe was copied: at EOF,
// when every process holding the write end is gone. A process that
// escaped the step's cleanup and still holds it is given killGrace, then
// the rest of its output is dropped.
func (p *outputPipe) wait() {
	p.w.Close() // ours, if the child never started
	select {
	case <-p.done:
	case <-time.After(killGrace):
		p.r.Close()
		<-p.done
	}
	p.r.Close()
}
