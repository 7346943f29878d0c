package solver

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/builderdev/builder/parser"
)

// secretName matches ARG and ENV keys that name sensitive data, after
// BuildKit's SecretsUsedInArgOrEnv build check: a word such as PASSWORD,
// TOKEN or SECRET delimited by "_" or the ends of the key.
var (
	secretName = regexp.MustCompile(`(?i)(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)`)
	publicName = regexp.MustCompile(`(?i)(?:_|^)(?:public|file|version)(?:_|$)`) // as builder check's rule
)

// secretsUsedInArgOrEnv returns BuildKit's SecretsUsedInArgOrEnv warning
// for each ARG or ENV key of df that names sensitive data (such as one a
// --build-arg PASSWORD=... sets): its value would stay in the image's
// config or history.
func secretsUsedInArgOrEnv(df *parser.Dockerfile) []string {
	var out []string
	check := func(kind, key string, loc parser.Location) {
		if secretName.MatchString(key) && !publicName.MatchString(key) {
			out = append(out, fmt.Sprintf("SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (%s %q) (%s:%d)", kind, key, loc.File, loc.Start))
		}
	}
	for _, a := range df.MetaArgs {
		for _, d := range a.Args {
			check("ARG", d.Key, a.Location())
		}
	}
	for _, st := range df.Stages {
		for _, inst := range st.Instructions {
			switch v := inst.(type) {
			case *parser.Arg:
				for _, d := range v.Args {
					check("ARG", d.Key, v.Location())
				}
			case *parser.Env:
				for _, p := range v.Pairs {
					check("ENV", p.Key, v.Location())
				}
			}
		}
	}
	return out
}

// reporter is where the build's events go: the solver's reporter,
// masking the build's secrets.
func (b *build) reporter() Reporter {
	if b.rep != nil {
		return b.rep
	}
	return b.s.reporter
}

// secretMask replaces a secret's value in progress and errors.
const secretMask = "****"

// minSecretLen is the shortest value scrubbed: masking shorter ones would
// garble every line without hiding anything worth hiding.
const minSecretLen = 3

// scrubber masks the values of a build's --secret secrets.
type scrubber struct {
	r      *strings.Replacer
	vals   []string // longest first
	maxLen int
}

// newScrubber reads the secrets' values; one that cannot be read is not
// masked (its mount fails with its own error). Each line of a multi-line
// value is masked too, longest first.
func newScrubber(secrets map[string]Secret) *scrubber {
	seen := map[string]bool{}
	for _, s := range secrets {
		v, err := s.read()
		if err != nil {
			continue
		}
		val := string(v)
		// not the raw value: masking its trailing newline would join lines
		for _, c := range append([]string{strings.TrimSpace(val)}, strings.Split(val, "\n")...) {
			if c = strings.TrimRight(c, "\r"); len(c) >= minSecretLen {
				seen[c] = true
			}
		}
	}
	if len(seen) == 0 {
		return nil
	}
	vals := make([]string, 0, len(seen))
	for v := range seen {
		vals = append(vals, v)
	}
	sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
	var pairs []string
	for _, v := range vals {
		pairs = append(pairs, v, secretMask)
	}
	return &scrubber{r: strings.NewReplacer(pairs...), vals: vals, maxLen: len(vals[0])}
}

// String masks every secret in s. A nil scrubber changes nothing.
func (s *scrubber) String(in string) string {
	if s == nil {
		return in
	}
	return s.r.Replace(in)
}

// scrubReporter masks secrets in every event it passes on. Log output is
// passed on by whole lines (or once a line is longer than the longest
// secret), so that a secret written in two pieces is still masked.
type scrubReporter struct {
	r Reporter
	s *scrubber

	mu      sync.Mutex
	pending map[int]*Event // per vertex: log output not yet passed on
}

func newScrubReporter(r Reporter, s *scrubber) Reporter {
	if s == nil {
		return r
	}
	return &scrubReporter{r: r, s: s, pending: map[int]*Event{}}
}

func (sr *scrubReporter) Report(e Event) {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	p := sr.pending[e.Vertex]
	if e.Status != StatusLog {
		if p != nil {
			sr.flush(e.Vertex, p, len(p.Data))
		}
		e.Data, e.Name = sr.s.String(e.Data), sr.s.String(e.Name)
		sr.r.Report(e)
		return
	}
	if p == nil {
		p = &Event{Vertex: e.Vertex, Name: e.Name, Status: StatusLog, Stream: e.Stream}
		sr.pending[e.Vertex] = p
	}
	p.Time = e.Time
	p.Data += e.Data
	cut := strings.LastIndexAny(p.Data, "\n\r") + 1
	if len(p.Data)-cut >= longLine {
		cut = sr.s.safeCut(p.Data, len(p.Data)-sr.s.maxLen+1)
	}
	if cut > 0 {
		sr.flush(e.Vertex, p, cut)
	}
}

// longLine is how much of a line without end is held back at most (plus
// the longest secret), so that output without newlines still flows.
const longLine = 4096

// safeCut moves the cut c back until no secret in data spans it. A secret
// that starts before c and is not yet complete cannot exist: c leaves at
// least maxLen-1 bytes after it.
func (s *scrubber) safeCut(data string, c int) int {
	for moved := true; moved; {
		moved = false
		for _, v := range s.vals {
			for off := 0; ; {
				j := strings.Index(data[off:], v)
				if j < 0 {
					break
				}
				j += off
				if j < c && j+len(v) > c {
					c, moved = j, true
				}
				off = j + 1
			}
		}
	}
	return c
}

// flushAll passes on all pending log output.
func (sr *scrubReporter) flushAll() {
	sr.mu.Lock()
	defer sr.mu.Unlock()
	for v, p := range sr.pending {
		sr.flush(v, p, len(p.Data))
	}
}

// flush passes on the first n bytes of p's log output, masked, and keeps
// the rest pending.
func (sr *scrubReporter) flush(vertex int, p *Event, n int) {
	out := *p
	out.Data, out.Name = sr.s.String(p.Data[:n]), sr.s.String(p.Name)
	if n == len(p.Data) {
		delete(sr.pending, vertex)
	} else {
		p.Data = p.Data[n:]
	}
	sr.r.Report(out)
}

// scrubbedError is an error whose text has the secrets masked; errors.Is
// and errors.As still see the original.
type scrubbedError struct {
	err  error
	text string
}

func (e *scrubbedError) Error() string { return e.text }
func (e *scrubbedError) Unwrap() error { return e.err }

// scrubError masks the secrets in err's text.
func (s *scrubber) scrubError(err error) error {
	if s == nil || err == nil {
		return err
	}
	if text := s.String(err.Error()); text != err.Error() {
		return &scrubbedError{err: err, text: text}
	}
	return err
}
