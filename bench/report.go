package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
)

// Targets of the solver and cache issue, checked on builder's results.
const (
	NoOpTarget    = 100 * time.Millisecond // W1 no-op rebuild, wall time
	OneFileTarget = 300 * time.Millisecond // W1 one file changed, wall time minus the work that re-ran
	// RSSGrowthLimit is how much more W3 (a 300 MB layer) may use than W1
	// cold at peak for RSS to count as not growing with layer size.
	RSSGrowthLimit = 64 << 20
)

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
	for _, s := range se.Samples {
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
	return append(out, c)
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
	if len(tools) == 2 {
		cols = append(cols, tools[1]+"/"+tools[0])
	}
	b.WriteString("| " + strings.Join(cols, " | ") + " |\n|")
	for range cols {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, row := range rows {
		cells := []string{row.Workload, string(row.Phase)}
		var walls []time.Duration
		for _, t := range tools {
			k := Key{row.Workload, row.Phase, t}
			st, ok := r.Stats(k)
			if !ok {
				cells = append(cells, "FAIL: "+mdEscape(r.errText(k)), "", "")
				walls = append(walls, 0)
				continue
			}
			wall := fmtDur(st.Wall)
			if st.Overhead >= 0 && row.Phase != Cold {
				wall += fmt.Sprintf(" (%s outside steps)", fmtDur(st.Overhead))
			}
			cells = append(cells, wall, fmtMB(st.MaxRSS), fmt.Sprint(st.N))
			walls = append(walls, st.Wall)
		}
		if len(tools) == 2 {
			ratio := "–"
			if walls[0] > 0 && walls[1] > 0 {
				ratio = fmt.Sprintf("%.2f×", float64(walls[1])/float64(walls[0]))
			}
			cells = append(cells, ratio)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	b.WriteString("\nWall: median wall time of the build (plus the `buildah push` to an OCI archive for W3). " +
		"Peak RSS: median of ru_maxrss from wait4, i.e. the largest single process of the tool's tree " +
		"(RUN processes included). \"outside steps\": wall time minus the union of the RUN/COPY/ADD steps " +
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
