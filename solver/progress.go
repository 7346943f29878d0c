package solver

import (
	"sync"
	"time"
)

// Status is the state of a vertex in a progress Event.
type Status string

// Statuses a vertex goes through.
const (
	// StatusWaiting is a step that is ready but waits for a job slot
	// (WithJobs); its StatusStarted follows when it begins to run.
	StatusWaiting Status = "waiting"
	StatusStarted Status = "started"
	StatusCached  Status = "cached"
	StatusDone    Status = "done"
	StatusError   Status = "error"
	StatusLog     Status = "log"
	// StatusInfo carries a build-wide message (isolation level, base image pulls).
	StatusInfo Status = "info"

	// StatusCanceled is a step stopped because the build was cancelled
	// (Ctrl-C) or because another step failed: not a failure of its own.
	StatusCanceled Status = "canceled"

	// StatusPhase reports a timed part of a step (Data names it: "extract",
	// "hash", "run", "diff+compress", "copy+compress", "speculated"; Duration is how long
	// it took, Time when it ended), for performance work. Renderers may
	// ignore it; it comes before the step's own end.
	StatusPhase Status = "phase"
)

// Names of StatusPhase events.
const (
	PhaseExtract      = "extract"       // base layers extracted for a RUN's root
	PhaseHash         = "hash"          // content hashed for a COPY's key
	PhaseRun          = "run"           // the RUN process
	PhaseDiffCompress = "diff+compress" // a RUN's changes tarred, compressed, stored
	PhaseCopyCompress = "copy+compress" // a COPY's files tarred, compressed, stored
	PhaseSpeculated   = "speculated"    // a COPY's layer made while its stage waited, checked and used
)

// Event is one typed progress report. Libraries never print; the caller
// renders events.
type Event struct {
	Time     time.Time     `json:"time"`
	Vertex   int           `json:"vertex,omitempty"` // 1-based step number, 0 for build-wide events
	Name     string        `json:"name,omitempty"`   // "[build 2/4] RUN go build ./..."
	Status   Status        `json:"status"`
	Stream   int           `json:"stream,omitempty"` // 1 for StatusLog: a RUN's stdout and stderr are one stream
	Data     string        `json:"data,omitempty"`   // log bytes, info text or error text
	Duration time.Duration `json:"duration,omitempty"`
	Reason   string        `json:"reason,omitempty"` // why a step missed the cache (--explain)
}

// Reporter receives progress events. Implementations must be safe for
// concurrent use: independent vertices report at the same time.
type Reporter interface {
	Report(Event)
}

// ReporterFunc adapts a function to Reporter.
type ReporterFunc func(Event)

// Report calls f(e).
func (f ReporterFunc) Report(e Event) { f(e) }

// phase reports that part name of vertex v ran from start until now.
func (b *build) phase(v *vertex, name string, start time.Time) {
	ev := Event{Time: time.Now(), Status: StatusPhase, Data: name}
	ev.Duration = ev.Time.Sub(start)
	if v != nil {
		ev.Vertex, ev.Name = v.num, v.name
	}
	b.s.reporter.Report(ev)
}

type discard struct{}

func (discard) Report(Event) {}

// logWriter turns a step's output into StatusLog events.
type logWriter struct {
	r      Reporter
	vertex int
	name   string
	stream int

	mu   sync.Mutex
	tail *tailBuffer
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.tail.Write(p)
	w.mu.Unlock()
	w.r.Report(Event{Time: time.Now(), Vertex: w.vertex, Name: w.name, Status: StatusLog, Stream: w.stream, Data: string(p)})
	return len(p), nil
}

// tailBuffer keeps the last n lines written to it, for error messages.
type tailBuffer struct {
	mu    sync.Mutex
	n     int
	lines []string
	part  []byte
}

func newTail(n int) *tailBuffer { return &tailBuffer{n: n} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, b := range p {
		if b == '\n' {
			t.push(string(t.part))
			t.part = t.part[:0]
			continue
		}
		if len(t.part) < 4096 {
			t.part = append(t.part, b)
		}
	}
	return len(p), nil
}

func (t *tailBuffer) push(s string) {
	t.lines = append(t.lines, s)
	if len(t.lines) > t.n {
		t.lines = t.lines[len(t.lines)-t.n:]
	}
}

// Lines returns the last lines, including an unterminated one.
func (t *tailBuffer) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]string(nil), t.lines...)
	if len(t.part) > 0 {
		out = append(out, string(t.part))
		if len(out) > t.n {
			out = out[len(out)-t.n:]
		}
	}
	return out
}
