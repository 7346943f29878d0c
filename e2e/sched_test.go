package e2e_test

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/builderdev/builder/internal/testenv"
)

// twoSleepers has two independent stages whose RUN prints a line, sleeps
// and prints another; the last stage reads both.
const twoSleepers = `FROM busybox AS a
RUN echo a-start; sleep 3; echo a-end
FROM busybox AS b
RUN echo b-start; sleep 3; echo b-end
FROM busybox
COPY --from=a /etc/passwd /a
COPY --from=b /etc/passwd /b
`

// jsonEvent is the part of a --progress json event read here.
type jsonEvent struct {
	Time     time.Time     `json:"time"`
	Vertex   int           `json:"vertex"`
	Name     string        `json:"name"`
	Status   string        `json:"status"`
	Data     string        `json:"data"`
	Duration time.Duration `json:"duration"`
}

// stepTimes is what the json progress says about one step.
type stepTimes struct {
	name                   string
	waiting, started, done time.Time
	duration               time.Duration
	firstLog, lastLog      time.Time
}

// stepsByName reads a --progress json stream and returns the steps whose
// name contains each of the given substrings.
func stepsByName(t *testing.T, stderr string, subs ...string) []*stepTimes {
	t.Helper()
	byVertex := map[int]*stepTimes{}
	for _, line := range strings.Split(stderr, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var e jsonEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("decode %q: %v", line, err)
		}
		if e.Vertex == 0 {
			continue
		}
		if e.Time.IsZero() {
			t.Fatalf("event without a time: %s", line)
		}
		s := byVertex[e.Vertex]
		if s == nil {
			s = &stepTimes{}
			byVertex[e.Vertex] = s
		}
		if e.Name != "" {
			s.name = e.Name
		}
		switch e.Status {
		case "waiting":
			s.waiting = e.Time
		case "started":
			s.started = e.Time
		case "done":
			s.done, s.duration = e.Time, e.Duration
		case "log":
			if s.firstLog.IsZero() {
				s.firstLog = e.Time
			}
			s.lastLog = e.Time
		}
	}
	var out []*stepTimes
	for _, sub := range subs {
		var found *stepTimes
		for _, s := range byVertex {
			if strings.Contains(s.name, sub) {
				found = s
			}
		}
		if found == nil || found.started.IsZero() || found.done.IsZero() || found.firstLog.IsZero() {
			t.Fatalf("no started, logged and done step %q in:\n%s", sub, stderr)
		}
		out = append(out, found)
	}
	return out
}

// overlap reports whether [a1, a2] and [b1, b2] share time.
func overlap(a1, a2, b1, b2 time.Time) bool { return a1.Before(b2) && b1.Before(a2) }

// With the default flags every ready step runs at once: the two sleeping
// stages overlap, both as progress reports them and as their processes
// printed.
func TestIndependentStagesOverlapByDefault(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), twoSleepers)
	r := mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "json", "--build-context", busyboxContext(t), ctxDir)
	s := stepsByName(t, r.stderr, "RUN echo a-start", "RUN echo b-start")
	a, b := s[0], s[1]
	if !overlap(a.started, a.done, b.started, b.done) {
		t.Errorf("steps did not overlap: a ran %s..%s, b ran %s..%s", a.started, a.done, b.started, b.done)
	}
	if !overlap(a.firstLog, a.lastLog, b.firstLog, b.lastLog) {
		t.Errorf("processes did not overlap: a printed %s..%s, b printed %s..%s", a.firstLog, a.lastLog, b.firstLog, b.lastLog)
	}
	if !a.waiting.IsZero() || !b.waiting.IsZero() {
		t.Errorf("a step waited for a job slot without --jobs:\n%s", r.stderr)
	}
}

// With --jobs 1 the second ready step waits for the slot, is shown as
// waiting, and its time counts from when it started to run.
func TestJobsOneWaits(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), twoSleepers)
	bb := busyboxContext(t)
	r := mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "json", "--build-context", bb, "--jobs", "1", ctxDir)
	s := stepsByName(t, r.stderr, "RUN echo a-start", "RUN echo b-start")
	first, second := s[0], s[1]
	if first.started.After(second.started) {
		first, second = second, first
	}
	if !first.waiting.IsZero() || second.waiting.IsZero() {
		t.Fatalf("want the second step (only) to wait: waiting at %v and %v\n%s", first.waiting, second.waiting, r.stderr)
	}
	if !second.waiting.Before(first.done) {
		t.Errorf("second step reported waiting at %s, after the first was done at %s", second.waiting, first.done)
	}
	if second.started.Before(first.done) {
		t.Errorf("second step started at %s, before the first released the slot at %s", second.started, first.done)
	}
	if overlap(first.firstLog, first.lastLog, second.firstLog, second.lastLog) {
		t.Errorf("--jobs 1 ran both processes at once")
	}
	if d := second.done.Sub(second.started); second.duration > d+50*time.Millisecond {
		t.Errorf("second step's duration %s counts more than its run %s (from when it was queued)", second.duration, d)
	}

	// Plain progress: WAITING, then the step again when it starts, and
	// its output timed from that start.
	r = mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--no-cache", "--build-context", bb, "--jobs", "1", ctxDir)
	waiting := regexp.MustCompile(`(?m)^(#\d+) WAITING for a job slot$`).FindStringSubmatch(r.stderr)
	if waiting == nil {
		t.Fatalf("no step shown as WAITING:\n%s", r.stderr)
	}
	id := waiting[1]
	logLine := regexp.MustCompile(`(?m)^` + id + ` (\d+\.\d+) [ab]-start$`).FindStringSubmatch(r.stderr)
	if logLine == nil {
		t.Fatalf("no output of %s:\n%s", id, r.stderr)
	}
	if el, _ := strconv.ParseFloat(logLine[1], 64); el >= 3 {
		t.Errorf("%s printed its first line %.3fs after it started: its timer counts the wait\n%s", id, el, r.stderr)
	}
	done := regexp.MustCompile(`(?m)^` + id + ` DONE (\d+\.\d)s$`).FindStringSubmatch(r.stderr)
	if done == nil {
		t.Fatalf("%s not DONE:\n%s", id, r.stderr)
	}
	if d, _ := strconv.ParseFloat(done[1], 64); d >= 6 {
		t.Errorf("%s DONE %.1fs: its timer counts the wait\n%s", id, d, r.stderr)
	}
}

// The summary counts steps in good English, and a WORKDIR that makes
// nothing is shown (CACHED), so the steps shown are [1/N]..[N/N].
func TestSummaryAndStepCount(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	df := "FROM busybox\nWORKDIR /tmp\nRUN echo one > one\nRUN echo two > two\n"
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), df)
	bb := busyboxContext(t)
	build := func() result {
		return mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", bb, ctxDir)
	}
	check := func(what string, r result, wantSummary string) {
		t.Helper()
		if !strings.Contains(r.stderr, ", "+wantSummary+", ") {
			t.Errorf("%s: summary does not say %q:\n%s", what, wantSummary, r.stderr)
		}
		shown := map[string]bool{}
		for _, m := range regexp.MustCompile(`(?m)^#\d+ \[(\d+)/(\d+)\] `).FindAllStringSubmatch(r.stderr, -1) {
			if m[2] != "4" {
				t.Errorf("%s: step total %s, want 4", what, m[2])
			}
			shown[m[1]] = true
		}
		for _, i := range []string{"1", "2", "3", "4"} {
			if !shown[i] {
				t.Errorf("%s: step [%s/4] not shown:\n%s", what, i, r.stderr)
			}
		}
		if !regexp.MustCompile(`(?m)^(#\d+) \[2/4\] WORKDIR /tmp\n#\d+ CACHED$`).MatchString(r.stderr) {
			t.Errorf("%s: WORKDIR of an existing directory not shown as CACHED:\n%s", what, r.stderr)
		}
	}
	check("cold", build(), "2 steps run, 1 step cached")
	check("rebuild", build(), "0 steps run, 3 steps cached")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), strings.Replace(df, "echo two", "echo three", 1))
	check("last step changed", build(), "1 step run, 2 steps cached")
}
