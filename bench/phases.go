package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"
)

// PhaseNames are the phases of builder's wall time, read from its
// --progress json events, in the order of a build. Each instant counts
// once: RUN before COPY before FROM before the rest, where they overlap
// (steps of independent stages run at the same time).
var PhaseNames = []string{PhaseStart, PhaseFrom, PhaseLookup, PhaseCopy, PhaseRun, PhaseExport}

// Phase names.
const (
	// PhaseStart: process start, flag and Dockerfile parsing, store open,
	// up to the first progress event.
	PhaseStart = "start+parse"
	// PhaseRun: RUN steps that ran (process, diff, compression, store write).
	PhaseRun = "RUN"
	// PhaseCopy: COPY/ADD steps that ran (context hashing and copy, layer write).
	PhaseCopy = "COPY"
	// PhaseFrom: FROM steps (base image resolution, pull, extraction).
	PhaseFrom = "FROM"
	// PhaseLookup: the rest until the last step finished: cache key
	// computation of cached steps (context hashing), lookups, waiting.
	PhaseLookup = "hashing+lookups"
	// PhaseExport: from the last step to the exit: image assembly, store
	// writes, tags, exports and pushes.
	PhaseExport = "export+store"
)

type span struct{ from, to time.Time }

// PhaseTimes splits the wall time [start, end] of one builder run into
// phases from its JSON progress stream. Events with status "phase" (a
// step's timed part, Data naming it) are added up as "step:NAME".
func PhaseTimes(progress []byte, start, end time.Time) (map[string]time.Duration, error) {
	kinds := map[string][]span{}
	sub := map[string]time.Duration{}
	var first, last time.Time
	err := eachEvent(progress, func(e progressEvent) error {
		if first.IsZero() || e.Time.Before(first) {
			first = e.Time
		}
		if e.Vertex == 0 {
			return nil
		}
		switch e.Status {
		case "done", "cached", "error":
			if e.Time.After(last) {
				last = e.Time
			}
		}
		if e.Status == "phase" {
			sub["step:"+e.Data] += e.Duration
			return nil
		}
		if e.Status != "done" {
			return nil
		}
		kind := stepKind(e.Name)
		kinds[kind] = append(kinds[kind], span{e.Time.Add(-e.Duration), e.Time})
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := map[string]time.Duration{}
	if first.IsZero() {
		out[PhaseStart] = end.Sub(start)
		return out, nil
	}
	if last.IsZero() {
		last = first
	}
	out[PhaseStart] = clampDur(first.Sub(start))
	out[PhaseExport] = clampDur(end.Sub(last))
	// Within [first, last]: RUN, then COPY, then FROM, then the rest.
	var taken []span
	body := span{first, last}
	for _, k := range []string{PhaseRun, PhaseCopy, PhaseFrom} {
		spans := clip(union(kinds[k]), body)
		out[k] = total(subtract(spans, taken))
		taken = union(append(taken, spans...))
	}
	out[PhaseLookup] = clampDur(last.Sub(first) - total(taken))
	for k, d := range sub {
		out[k] = d
	}
	return out, nil
}

// stepKind is RUN, COPY (COPY and ADD) or FROM for a step name like
// "[stage 2/4] RUN ...", else "".
func stepKind(name string) string {
	_, rest, ok := strings.Cut(name, "] ")
	if !ok {
		return ""
	}
	switch word, _, _ := strings.Cut(rest, " "); word {
	case "RUN":
		return PhaseRun
	case "COPY", "ADD":
		return PhaseCopy
	case "FROM":
		return PhaseFrom
	}
	return ""
}

func clampDur(d time.Duration) time.Duration { return max(d, 0) }

// union merges overlapping spans, sorted by start.
func union(in []span) []span {
	s := append([]span(nil), in...)
	sort.Slice(s, func(i, j int) bool { return s[i].from.Before(s[j].from) })
	var out []span
	for _, x := range s {
		if n := len(out); n > 0 && !x.from.After(out[n-1].to) {
			if x.to.After(out[n-1].to) {
				out[n-1].to = x.to
			}
			continue
		}
		out = append(out, x)
	}
	return out
}

// clip cuts sorted, disjoint spans to w.
func clip(in []span, w span) []span {
	var out []span
	for _, x := range in {
		if x.from.Before(w.from) {
			x.from = w.from
		}
		if x.to.After(w.to) {
			x.to = w.to
		}
		if x.to.After(x.from) {
			out = append(out, x)
		}
	}
	return out
}

// subtract removes the parts of a that b covers (both sorted and disjoint).
func subtract(a, b []span) []span {
	var out []span
	for _, x := range a {
		cur := []span{x}
		for _, y := range b {
			var next []span
			for _, c := range cur {
				if !y.to.After(c.from) || !y.from.Before(c.to) {
					next = append(next, c)
					continue
				}
				if y.from.After(c.from) {
					next = append(next, span{c.from, y.from})
				}
				if y.to.Before(c.to) {
					next = append(next, span{y.to, c.to})
				}
			}
			cur = next
		}
		out = append(out, cur...)
	}
	return out
}

func total(s []span) time.Duration {
	var d time.Duration
	for _, x := range s {
		d += x.to.Sub(x.from)
	}
	return d
}

// eachEvent calls fn with every JSON event of a --progress json stream
// (other lines are skipped), stopping at fn's first error.
func eachEvent(progress []byte, fn func(progressEvent) error) error {
	sc := bufio.NewScanner(bytes.NewReader(progress))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var e progressEvent
		if err := json.Unmarshal(line, &e); err != nil {
			return fmt.Errorf("decode event: %w", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("scan events: %w", err)
	}
	return nil
}
