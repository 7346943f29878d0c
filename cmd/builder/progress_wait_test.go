package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/builderdev/builder/solver"
)

// A step that waits for a job slot is shown as waiting; its log times and
// DONE count from when it started to run.
func TestPlainProgressWaiting(t *testing.T) {
	var buf bytes.Buffer
	rep, done := newRenderer("plain", false, &buf)
	t0 := time.Now()
	rep.Report(solver.Event{Time: t0, Vertex: 1, Name: "[a 2/2] RUN sleep 3", Status: solver.StatusStarted})
	rep.Report(solver.Event{Time: t0, Vertex: 2, Name: "[b 2/2] RUN x", Status: solver.StatusWaiting})
	rep.Report(solver.Event{Time: t0.Add(3 * time.Second), Vertex: 1, Status: solver.StatusDone, Duration: 3 * time.Second})
	rep.Report(solver.Event{Time: t0.Add(3 * time.Second), Vertex: 2, Name: "[b 2/2] RUN x", Status: solver.StatusStarted})
	rep.Report(solver.Event{Time: t0.Add(3500 * time.Millisecond), Vertex: 2, Status: solver.StatusLog, Data: "out\n"})
	rep.Report(solver.Event{Time: t0.Add(4 * time.Second), Vertex: 2, Status: solver.StatusDone, Duration: time.Second})
	done()
	want := "#1 [a 2/2] RUN sleep 3\n#2 [b 2/2] RUN x\n#2 WAITING for a job slot\n#1 DONE 3.0s\n" +
		"#2 [b 2/2] RUN x\n#2 0.500 out\n#2 DONE 1.0s\n"
	if buf.String() != want {
		t.Errorf("plain progress:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestTTYProgressWaiting(t *testing.T) {
	var buf bytes.Buffer
	r := &ttyRenderer{w: &buf, start: time.Now(), vertices: map[int]*ttyVertex{}, stop: make(chan struct{})}
	queued := time.Now().Add(-10 * time.Second)
	r.Report(solver.Event{Time: queued, Vertex: 2, Name: "[b 2/2] RUN x", Status: solver.StatusWaiting})
	r.draw(false)
	if out := buf.String(); !strings.Contains(out, " => WAITING [b 2/2] RUN x\n") {
		t.Errorf("waiting step not shown as waiting (without a timer):\n%q", out)
	}
	buf.Reset()
	started := queued.Add(9 * time.Second)
	r.Report(solver.Event{Time: started, Vertex: 2, Name: "[b 2/2] RUN x", Status: solver.StatusStarted})
	r.Report(solver.Event{Time: started.Add(2 * time.Second), Vertex: 2, Status: solver.StatusDone})
	r.draw(true)
	if out := buf.String(); !strings.Contains(out, " => [b 2/2] RUN x  2.0s\n") {
		t.Errorf("step's time counts from when it was queued, not started:\n%q", out)
	}
}

func TestJobsFlagNegative(t *testing.T) {
	var out, errw bytes.Buffer
	code := run(context.Background(), []string{"--root", t.TempDir(), "build", "--jobs", "-1", t.TempDir()}, strings.NewReader(""), &out, &errw)
	if code != 2 || !strings.Contains(errw.String(), "--jobs") {
		t.Errorf("--jobs -1: exit %d, %q; want 2 and an error naming --jobs", code, errw.String())
	}
}

func TestSummarySteps(t *testing.T) {
	for n, want := range map[int]string{0: "0 steps", 1: "1 step", 2: "2 steps", 11: "11 steps"} {
		if got := steps(n); got != want {
			t.Errorf("steps(%d) = %q, want %q", n, got, want)
		}
	}
}
