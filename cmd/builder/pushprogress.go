package main

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/builderdev/builder/solver"
)

// pushEvent is a finished push of `build --push` (or of an output with
// push=true), as --progress=json prints it: one JSON object a line, told
// apart from step events by its status "pushed".
type pushEvent struct {
	Time   time.Time `json:"time"`
	Status string    `json:"status"` // always "pushed"
	Ref    string    `json:"ref"`
	Digest string    `json:"digest"` // manifest digest the registry has
	Size   int64     `json:"size"`   // manifest size, as `builder push` prints it
}

// pushReporter is a renderer that shows pushes.
type pushReporter interface {
	Pushed(pushEvent)
}

// pushReport returns the function that tells rep of each push (nothing
// for a renderer that shows none, as with --quiet).
func pushReport(rep solver.Reporter) func(pushed) {
	pr, ok := rep.(pushReporter)
	if !ok {
		return nil
	}
	return func(p pushed) {
		pr.Pushed(pushEvent{Time: time.Now(), Status: "pushed", Ref: p.ref, Digest: p.digest.String(), Size: p.size})
	}
}

// pushLine is how plain and tty progress show a push.
func pushLine(e pushEvent) string {
	return fmt.Sprintf("pushed %s@%s size: %d", e.Ref, e.Digest, e.Size)
}

// Pushed prints the push on a line of its own.
func (p *plainRenderer) Pushed(e pushEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.w, pushLine(e))
}

// Pushed adds the push to the lines under the header.
func (t *ttyRenderer) Pushed(e pushEvent) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.info = append(t.info, pushLine(e))
}

// jsonRenderer prints every event as one JSON object a line.
type jsonRenderer struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func (j *jsonRenderer) Report(e solver.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.enc.Encode(e)
}

func (j *jsonRenderer) Pushed(e pushEvent) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.enc.Encode(e)
}

var (
	_ pushReporter = (*plainRenderer)(nil)
	_ pushReporter = (*ttyRenderer)(nil)
	_ pushReporter = (*jsonRenderer)(nil)
)
