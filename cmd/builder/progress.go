package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/solver"
)

// newRenderer returns the progress reporter for --progress and a function
// that flushes it (safe to call more than once).
func newRenderer(mode string, quiet bool, w io.Writer) (solver.Reporter, func()) {
	if quiet {
		return solver.ReporterFunc(func(solver.Event) {}), func() {}
	}
	if mode == "auto" || mode == "" {
		mode = "plain"
		if f, ok := w.(*os.File); ok && isTerminal(f) {
			mode = "tty"
		}
	}
	switch mode {
	case "json":
		return &jsonRenderer{enc: json.NewEncoder(w)}, func() {}
	case "tty":
		t := &ttyRenderer{w: w, start: time.Now(), vertices: map[int]*ttyVertex{}, stop: make(chan struct{})}
		t.done.Add(1)
		go t.loop()
		var once sync.Once
		return t, func() { once.Do(t.close) }
	default:
		return &plainRenderer{w: w, started: map[int]time.Time{}}, func() {}
	}
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// plainRenderer prints BuildKit's plain format:
//
//	#5 [build 2/4] RUN go build ./...
//	#5 0.512 output line
//	#5 DONE 1.2s
type plainRenderer struct {
	mu      sync.Mutex
	w       io.Writer
	started map[int]time.Time
}

func (p *plainRenderer) Report(e solver.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Status {
	case solver.StatusInfo:
		fmt.Fprintf(p.w, "#0 %s\n", e.Data)
	case solver.StatusWaiting:
		fmt.Fprintf(p.w, "#%d %s\n#%d WAITING for a job slot\n", e.Vertex, e.Name, e.Vertex)
	case solver.StatusStarted:
		p.started[e.Vertex] = e.Time // a waiting step's timer starts here
		fmt.Fprintf(p.w, "#%d %s\n", e.Vertex, e.Name)
		if e.Reason != "" {
			fmt.Fprintf(p.w, "#%d %s\n", e.Vertex, e.Reason)
		}
	case solver.StatusCached:
		fmt.Fprintf(p.w, "#%d %s\n#%d CACHED\n", e.Vertex, e.Name, e.Vertex)
		if e.Reason != "" {
			fmt.Fprintf(p.w, "#%d %s\n", e.Vertex, e.Reason)
		}
	case solver.StatusLog:
		el := e.Time.Sub(p.started[e.Vertex]).Seconds()
		for _, line := range strings.SplitAfter(e.Data, "\n") {
			if line == "" {
				continue
			}
			fmt.Fprintf(p.w, "#%d %.3f %s", e.Vertex, el, strings.TrimSuffix(line, "\n")+"\n")
		}
	case solver.StatusDone:
		fmt.Fprintf(p.w, "#%d DONE %.1fs\n", e.Vertex, e.Duration.Seconds())
	case solver.StatusError:
		fmt.Fprintf(p.w, "#%d ERROR: %s\n", e.Vertex, firstLine(e.Data))
	case solver.StatusCanceled:
		fmt.Fprintf(p.w, "#%d CANCELED\n", e.Vertex)
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// ttyRenderer redraws one line per step with timers, CACHED, and the last
// lines of a running step's output.
type ttyRenderer struct {
	mu       sync.Mutex
	w        io.Writer
	start    time.Time
	vertices map[int]*ttyVertex
	info     []string
	lines    int // lines drawn last time
	stop     chan struct{}
	done     sync.WaitGroup
}

type ttyVertex struct {
	name    string
	started time.Time
	took    time.Duration
	status  solver.Status
	tail    []string
}

func (t *ttyRenderer) Report(e solver.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e.Status == solver.StatusInfo {
		t.info = append(t.info, e.Data)
		return
	}
	if e.Status == solver.StatusPhase {
		return // timings for --progress json readers only
	}
	v := t.vertices[e.Vertex]
	if v == nil {
		v = &ttyVertex{name: e.Name, started: e.Time}
		t.vertices[e.Vertex] = v
	}
	switch e.Status {
	case solver.StatusLog:
		for _, l := range strings.Split(strings.TrimRight(e.Data, "\n"), "\n") {
			v.tail = append(v.tail, l)
		}
		if len(v.tail) > 5 {
			v.tail = v.tail[len(v.tail)-5:]
		}
		return
	case solver.StatusStarted:
		v.started = e.Time // a step that waited for a job slot runs from now
	case solver.StatusDone, solver.StatusCached, solver.StatusError, solver.StatusCanceled:
		v.took = e.Time.Sub(v.started)
	}
	v.status = e.Status
}

func (t *ttyRenderer) loop() {
	defer t.done.Done()
	tick := time.NewTicker(150 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			t.draw(true)
			return
		case <-tick.C:
			t.draw(false)
		}
	}
}

func (t *ttyRenderer) close() {
	close(t.stop)
	t.done.Wait()
}

func (t *ttyRenderer) draw(final bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var b strings.Builder
	if t.lines > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", t.lines)
	}
	ids := make([]int, 0, len(t.vertices))
	finished := 0
	for id, v := range t.vertices {
		ids = append(ids, id)
		if v.status == solver.StatusDone || v.status == solver.StatusCached {
			finished++
		}
	}
	sort.Ints(ids)
	n := 0
	line := func(s string) {
		b.WriteString("\x1b[2K")
		b.WriteString(s)
		b.WriteString("\n")
		n++
	}
	line(fmt.Sprintf("[+] Building %.1fs (%d/%d)%s", time.Since(t.start).Seconds(), finished, len(ids), map[bool]string{true: " FINISHED", false: ""}[final]))
	for _, s := range t.info {
		line(" => " + s)
	}
	for _, id := range ids {
		v := t.vertices[id]
		switch v.status {
		case solver.StatusCached:
			line(fmt.Sprintf(" => CACHED %s", v.name))
		case solver.StatusDone:
			line(fmt.Sprintf(" => %s  %.1fs", v.name, v.took.Seconds()))
		case solver.StatusError:
			line(fmt.Sprintf(" => ERROR %s  %.1fs", v.name, v.took.Seconds()))
		case solver.StatusWaiting:
			line(fmt.Sprintf(" => WAITING %s", v.name))
		case solver.StatusCanceled:
			line(fmt.Sprintf(" => CANCELED %s  %.1fs", v.name, v.took.Seconds()))
		default:
			line(fmt.Sprintf(" => %s  %.1fs", v.name, time.Since(v.started).Seconds()))
			if !final {
				for _, l := range v.tail {
					if len(l) > 120 {
						l = l[:120]
					}
					line(" => => " + l)
				}
			}
		}
	}
	for i := n; i < t.lines; i++ { // clear what the last frame had below
		b.WriteString("\x1b[2K\n")
	}
	if n < t.lines {
		fmt.Fprintf(&b, "\x1b[%dA", t.lines-n)
	}
	t.lines = n
	io.WriteString(t.w, b.String())
}
