package main

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/builderdev/builder/solver"
)

// exitInterrupted is the exit status after Ctrl-C or SIGTERM, as a shell
// reports a command killed by SIGINT.
const exitInterrupted = 130

// runningSteps passes events on and remembers the steps that were running
// when the build was cancelled, so that "interrupted" can name them.
type runningSteps struct {
	next solver.Reporter
	mu   sync.Mutex
	open map[int]string
}

func newRunningSteps(next solver.Reporter) *runningSteps {
	return &runningSteps{next: next, open: map[int]string{}}
}

func (r *runningSteps) Report(e solver.Event) {
	if e.Vertex != 0 {
		r.mu.Lock()
		switch e.Status {
		case solver.StatusStarted:
			r.open[e.Vertex] = e.Name
		case solver.StatusDone, solver.StatusCached, solver.StatusError:
			delete(r.open, e.Vertex)
		}
		// A cancelled step stays: it is what the interrupt stopped.
		r.mu.Unlock()
	}
	r.next.Report(e)
}

// names are the running (or cancelled) steps, "#5 [2/3] RUN x", in order.
func (r *runningSteps) names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]int, 0, len(r.open))
	for id := range r.open {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = fmt.Sprintf("#%d %s", id, r.open[id])
	}
	return out
}

// interrupted is the error of a build stopped by a signal: it names the
// steps that were running instead of a "context canceled" from deep inside.
func interrupted(steps []string) error {
	if len(steps) == 0 {
		return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted")}
	}
	return &exitError{code: exitInterrupted, err: fmt.Errorf("interrupted while running %s", strings.Join(steps, ", "))}
}
