package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// Targets on builder's own results (from the solver and cache issue).
const (
	NoOpTarget    = 100 * time.Millisecond // W1 no-op rebuild, wall time
	OneFileTarget = 300 * time.Millisecond // W1 one file changed, wall time minus the work that re-ran
	// RSSGrowthLimit is how much more W3 (a 300 MB layer) may use than W1
	// cold at peak for RSS to count as not growing with layer size.
	RSSGrowthLimit = 64 << 20
	// RSSContextLimit is the same for W2's 200 MB context.
	RSSContextLimit = 100 << 20
)

// RatioTarget is a target on builder's wall time over BuildKit's.
type RatioTarget struct {
	Workload string
	Phase    Phase
	Max      float64
}

// BuildKitTargets are the perf issue's targets: builder / BuildKit wall
// time, medians of the same run.
var BuildKitTargets = []RatioTarget{
	{"W1", Cold, 0.6}, {"W1", NoOp, 0.3}, {"W1", OneFile, 0.25},
	{"W4", Cold, 0.6}, {"W2", Cold, 0.2}, {"W3", Cold, 0.35},
}

// Key names one measured series.
type Key struct {
	Workload string
	Phase    Phase
	Tool     string
}

// Series is what was measured for one key: samples, or the error that
// stopped it.
type Series struct {
	Samples []Sample
	Err     error
}

// Results collects series; it is safe for concurrent use.
type Results struct {
	mu     sync.Mutex
	series map[Key]*Series
	rows   []Key // workload+phase in first-seen order (Tool unset)
	tools  []string
	titles map[string]string
}

// NewResults returns empty results.
func NewResults() *Results {
	return &Results{series: map[Key]*Series{}, titles: map[string]string{}}
}

func (r *Results) get(k Key) *Series {
	s := r.series[k]
	if s == nil {
		s = &Series{}
		r.series[k] = s
		row := Key{Workload: k.Workload, Phase: k.Phase}
		if !slices.Contains(r.rows, row) {
			r.rows = append(r.rows, row)
		}
		if !slices.Contains(r.tools, k.Tool) {
			r.tools = append(r.tools, k.Tool)
		}
	}
	return s
}

// Title records a workload's description for the table.
func (r *Results) Title(workload, title string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.titles[workload] = title
}

// Reset drops the samples of k (a benchmark function may be called again
// with more iterations; only the last call counts).
func (r *Results) Reset(k Key) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.get(k) = Series{}
}

// Add records one sample.
func (r *Results) Add(k Key, s Sample) {
	r.mu.Lock()
	defer r.mu.Unlock()
	se := r.get(k)
	se.Samples = append(se.Samples, s)
}

// Fail records that k could not be measured; the first error is kept.
func (r *Results) Fail(k Key, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if se := r.get(k); se.Err == nil {
		se.Err = err
	}
}

// Stats are the medians of a series.
type Stats struct {
	N      int
	Wall   time.Duration // median wall time
	MaxRSS int64         // median peak RSS
	// Overhead is the median of wall minus reported work; -1 if unknown.
	Overhead time.Duration
	// Phases are the medians of each phase (nil when not reported).
	Phases map[string]time.Duration
}

// Stats returns the medians of k's samples; ok is false when there are
// none or the series failed.
func (r *Results) Stats(k Key) (Stats, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	se := r.series[k]
	if se == nil || se.Err != nil || len(se.Samples) == 0 {
		return Stats{}, false
	}
	var walls, over []time.Duration
	var rss []int64
	phases := map[string][]time.Duration{}
	for _, s := range se.Samples {
		for k, d := range s.Phases {
			phases[k] = append(phases[k], d)
		}
		walls = append(walls, s.Wall)
		rss = append(rss, s.MaxRSS)
		if s.Work >= 0 {
			over = append(over, s.Wall-s.Work)
		}
	}
	st := Stats{N: len(se.Samples), Wall: Median(walls), MaxRSS: Median(rss), Overhead: -1}
	if len(over) == len(se.Samples) {
		st.Overhead = Median(over)
	}
	for k, v := range phases {
		if st.Phases == nil {
			st.Phases = map[string]time.Duration{}
		}
		st.Phases[k] = Median(v)
	}
	return st, true
}

// Median returns the median (the mean of the two middle values for an even
// count); zero for none.
func Median[T ~int64](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Check is one target and whether it was met.
type Check struct {
	Name   string
	Met    bool
	Detail string
}

// Checks evaluates the targets on the "builder" series. A target whose
// series is missing or failed is not met.
func (r *Results) Checks() []Check {
	const tool = "builder"
	var out []Check
	noop, ok := r.Stats(Key{"W1", NoOp, tool})
	c := Check{Name: fmt.Sprintf("W1 no-op rebuild ≤ %s", fmtDur(NoOpTarget))}
	if ok {
		c.Met = noop.Wall <= NoOpTarget
		c.Detail = "median " + fmtDur(noop.Wall)
	} else {
		c.Detail = "not measured: " + r.errText(Key{"W1", NoOp, tool})
	}
	out = append(out, c)

	one, ok := r.Stats(Key{"W1", OneFile, tool})
	c = Check{Name: fmt.Sprintf("W1 one file changed ≤ %s + work re-run", fmtDur(OneFileTarget))}
	switch {
	case !ok:
		c.Detail = "not measured: " + r.errText(Key{"W1", OneFile, tool})
	case one.Overhead < 0:
		c.Detail = "builder reported no step times"
	default:
		c.Met = one.Overhead <= OneFileTarget
		c.Detail = fmt.Sprintf("median wall %s, of which %s outside re-run COPY/RUN steps",
			fmtDur(one.Wall), fmtDur(one.Overhead))
	}
	out = append(out, c)

	w1, ok1 := r.Stats(Key{"W1", Cold, tool})
	w3, ok3 := r.Stats(Key{"W3", Cold, tool})
	c = Check{Name: "peak RSS does not grow with layer size (W3 300 MB layer vs W1)"}
	if ok1 && ok3 {
		c.Met = w3.MaxRSS-w1.MaxRSS <= RSSGrowthLimit
		c.Detail = fmt.Sprintf("W3 %s vs W1 %s (limit +%s)", fmtMB(w3.MaxRSS), fmtMB(w1.MaxRSS), fmtMB(RSSGrowthLimit))
	} else {
		c.Detail = "not measured"
	}
	out = append(out, c)

	w2, ok2 := r.Stats(Key{"W2", Cold, tool})
	c = Check{Name: "peak RSS does not grow with context size (W2 200 MB context vs W1)"}
	if ok1 && ok2 {
		c.Met = w2.MaxRSS-w1.MaxRSS <= RSSContextLimit
		c.Detail = fmt.Sprintf("W2 %s vs W1 %s (limit +%s)", fmtMB(w2.MaxRSS), fmtMB(w1.MaxRSS), fmtMB(RSSContextLimit))
	} else {
		c.Detail = "not measured"
	}
	out = append(out, c)

	for _, t := range BuildKitTargets {
		c := Check{Name: fmt.Sprintf("%s %s: builder/BuildKit ≤ %.2f×", t.Workload, t.Phase, t.Max)}
		b, okb := r.Stats(Key{t.Workload, t.Phase, tool})
		k, okk := r.Stats(Key{t.Workload, t.Phase, "buildkit"})
		if !okb || !okk {
			c.Detail = "not measured"
			out = append(out, c)
			continue
		}
		ratio := float64(b.Wall) / float64(k.Wall)
		c.Met = ratio <= t.Max
		c.Detail = fmt.Sprintf("%.2f×: builder %s, BuildKit %s", ratio, fmtDur(b.Wall), fmtDur(k.Wall))
		if !c.Met {
			if name, d := biggestPhase(b.Phases); name != "" {
				c.Detail += fmt.Sprintf("; builder's largest phase: %s %s", name, fmtDur(d))
			}
		}
		out = append(out, c)
	}
	return out
}

// biggestPhase is the longest wall-time phase (not a step:NAME part).
func biggestPhase(p map[string]time.Duration) (string, time.Duration) {
	name, best := "", time.Duration(-1)
	for _, k := range PhaseNames {
		if d, ok := p[k]; ok && d > best {
			name, best = k, d
		}
	}
	return name, best
}

func (r *Results) errText(k Key) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if se := r.series[k]; se != nil && se.Err != nil {
		return oneLine(se.Err.Error(), 160)
	}
	return "no samples"
}

// WriteMarkdown writes the table and the target checks as Markdown.
func (r *Results) WriteMarkdown(w io.Writer, header string) error {
	r.mu.Lock()
	rows, tools := slices.Clone(r.rows), slices.Clone(r.tools)
	titles := r.titles
	r.mu.Unlock()

	var b strings.Builder
	if header != "" {
		b.WriteString(header + "\n\n")
	}
	cols := []string{"workload", "phase"}
	for _, t := range tools {
		cols = append(cols, t+" wall", t+" peak RSS", "n")
	}
	var peers []string
	if slices.Contains(tools, "builder") {
		for _, t := range tools {
			if t != "builder" {
				peers = append(peers, t)
				cols = append(cols, "builder/"+t)
			}
		}
	}
	b.WriteString("| " + strings.Join(cols, " | ") + " |\n|")
	for range cols {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, row := range rows {
		cells := []string{row.Workload, string(row.Phase)}
		walls := map[string]time.Duration{}
		for _, t := range tools {
			k := Key{row.Workload, row.Phase, t}
			st, ok := r.Stats(k)
			if !ok {
				cells = append(cells, "FAIL: "+mdEscape(r.errText(k)), "", "")
				continue
			}
			wall := fmtDur(st.Wall)
			if st.Overhead >= 0 && row.Phase != Cold {
				wall += fmt.Sprintf(" (%s outside steps)", fmtDur(st.Overhead))
			}
			cells = append(cells, wall, fmtMB(st.MaxRSS), fmt.Sprint(st.N))
			walls[t] = st.Wall
		}
		for _, p := range peers {
			ratio := "–"
			if walls["builder"] > 0 && walls[p] > 0 {
				ratio = fmt.Sprintf("%.2f×", float64(walls["builder"])/float64(walls[p]))
			}
			cells = append(cells, ratio)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	r.writePhases(&b, rows)
	b.WriteString("\nWall: median wall time of the build (plus `buildah push` to an OCI archive or the registry for W3 and W5). " +
		"builder/X: builder's median wall time over X's (below 1 is builder faster). " +
		"Peak RSS: median of ru_maxrss from wait4, i.e. the largest single process of the tool's tree " +
		"(RUN processes included); for BuildKit the larger of buildctl's and the daemon's VmHWM during the build. " +
		"\"outside steps\": wall time minus the union of the RUN/COPY/ADD steps " +
		"builder reported as run (not cached) in --progress json.\n")
	b.WriteString("\nWorkloads:\n\n")
	seen := map[string]bool{}
	for _, row := range rows {
		if !seen[row.Workload] {
			seen[row.Workload] = true
			fmt.Fprintf(&b, "- %s: %s\n", row.Workload, titles[row.Workload])
		}
	}
	b.WriteString("\nTargets (builder):\n\n")
	for _, c := range r.Checks() {
		mark := "NOT MET"
		if c.Met {
			mark = "met"
		}
		fmt.Fprintf(&b, "- %s: **%s** (%s)\n", c.Name, mark, c.Detail)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writePhases writes the table of where builder's time went.
func (r *Results) writePhases(b *strings.Builder, rows []Key) {
	var parts []string
	stats := map[Key]Stats{}
	for _, row := range rows {
		st, ok := r.Stats(Key{row.Workload, row.Phase, "builder"})
		if !ok || st.Phases == nil {
			continue
		}
		stats[row] = st
		for k := range st.Phases {
			if strings.HasPrefix(k, "step:") && !slices.Contains(parts, k) {
				parts = append(parts, k)
			}
		}
	}
	if len(stats) == 0 {
		return
	}
	slices.Sort(parts)
	cols := append(append([]string{"workload", "phase", "wall"}, PhaseNames...), parts...)
	b.WriteString("\nWhere builder's time goes (medians, from --progress json):\n\n")
	b.WriteString("| " + strings.Join(cols, " | ") + " |\n|")
	for range cols {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, row := range rows {
		st, ok := stats[row]
		if !ok {
			continue
		}
		cells := []string{row.Workload, string(row.Phase), fmtDur(st.Wall)}
		for _, k := range append(slices.Clone(PhaseNames), parts...) {
			cell := "–"
			if d, ok := st.Phases[k]; ok {
				cell = fmtDur(d)
			}
			cells = append(cells, cell)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	b.WriteString("\nPhases split the wall time: " + PhaseStart + " is process start to the first event; " +
		PhaseFrom + ", " + PhaseCopy + " and " + PhaseRun + " are steps that ran (overlaps counted once, RUN first); " +
		PhaseLookup + " is the rest until the last step (cache keys of cached steps, context hashing, waiting); " +
		PhaseExport + " is after the last step (image, store writes, tags, export, push). " +
		"step:NAME columns add up the timed parts steps report (across parallel steps, so not a slice of wall time).\n")
}

func fmtDur(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func fmtMB(n int64) string { return fmt.Sprintf("%.0f MB", float64(n)/(1<<20)) }

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
