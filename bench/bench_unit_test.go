package bench

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []time.Duration
		want time.Duration
	}{
		{"none", nil, 0},
		{"one", []time.Duration{7}, 7},
		{"odd unsorted", []time.Duration{5, 1, 9, 3, 7}, 5},
		{"even", []time.Duration{4, 1, 3, 2}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Median(tc.in); got != tc.want {
				t.Errorf("Median(%v) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestStepWork(t *testing.T) {
	at := func(ms int) string {
		return time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(ms) * time.Millisecond).Format(time.RFC3339Nano)
	}
	for _, tc := range []struct {
		name, events string
		want         time.Duration
	}{
		{"nothing ran", `{"time":"` + at(10) + `","vertex":2,"name":"[a 2/2] RUN x","status":"cached"}`, 0},
		{"one step", `{"time":"` + at(0) + `","vertex":1,"name":"[a 1/2] FROM busybox","status":"done","duration":50000000}
{"time":"` + at(500) + `","vertex":2,"name":"[a 2/2] COPY . /ctx/","status":"done","duration":300000000}
{"time":"` + at(510) + `","vertex":0,"status":"info","data":"done"}`, 300 * time.Millisecond},
		{"parallel steps count once", `{"time":"` + at(1000) + `","vertex":1,"name":"[left 2/2] RUN sleep 1","status":"done","duration":1000000000}
{"time":"` + at(1200) + `","vertex":2,"name":"[right 2/2] RUN sleep 1","status":"done","duration":1000000000}
{"time":"` + at(1500) + `","vertex":3,"name":"[stage-2 3/3] RUN find","status":"done","duration":100000000}`, 1300 * time.Millisecond},
		{"plain text ignored", "#0 isolation: namespace\n", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := StepWork([]byte(tc.events))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("StepWork = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestExec(t *testing.T) {
	const busybox = "/bin/busybox"
	if _, err := os.Stat(busybox); err != nil {
		t.Skip("busybox-static not installed")
	}
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		args   []string
		minRSS int64
		code   int // 0: success
	}{
		// dd allocates its block: 64 MB resident in the child itself.
		{"child", []string{"dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"}, 64 << 20, 0},
		// ... and in a grandchild the shell waited for.
		{"grandchild", []string{"sh", "-c", busybox + " dd if=/dev/zero of=/dev/null bs=48M count=1; true"}, 48 << 20, 0},
		{"failure", []string{"sh", "-c", "echo broken >&2; exit 3"}, 0, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _, _, err := Exec(ctx, Command{Path: busybox, Args: tc.args})
			if tc.code != 0 {
				var re *RunError
				if !errors.As(err, &re) || re.Code != tc.code || !strings.Contains(re.Error(), "broken") {
					t.Fatalf("err = %v, want exit %d mentioning stderr", err, tc.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s.MaxRSS < tc.minRSS || s.MaxRSS > tc.minRSS+64<<20 {
				t.Errorf("MaxRSS = %d, want about %d", s.MaxRSS, tc.minRSS)
			}
			if s.Wall <= 0 || s.Work != -1 {
				t.Errorf("sample = %+v", s)
			}
		})
	}
}

func TestPrepare(t *testing.T) {
	var w1 Workload
	for _, w := range Workloads() {
		if w.Name == "W1" {
			w1 = w
		}
	}
	dir := t.TempDir()
	df, ctxDir, err := w1.Prepare(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(df); err != nil || string(b) != w1.Dockerfile {
		t.Fatalf("Dockerfile = %q, %v", b, err)
	}
	n := 0
	err = filepath.WalkDir(ctxDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if fi.Size() != int64(w1.FileSize) {
			t.Errorf("%s: size %d", p, fi.Size())
		}
		n++
		return nil
	})
	if err != nil || n != w1.Files {
		t.Fatalf("%d files (%v), want %d", n, err, w1.Files)
	}
	first := filepath.Join(ctxDir, "d000", "f00000")
	for i := 1; i <= 2; i++ {
		if err := ChangeOneFile(ctxDir, i); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(first); !strings.Contains(string(b), "changed ") {
			t.Fatalf("after change %d: %q", i, b)
		}
	}
}

func TestWriteMarkdown(t *testing.T) {
	r := NewResults()
	r.Title("W1", "three stages")
	r.Title("W3", "big layer")
	add := func(wl string, ph Phase, tool string, walls ...time.Duration) {
		for _, w := range walls {
			r.Add(Key{wl, ph, tool}, Sample{Wall: w, MaxRSS: 20 << 20, Work: w - 50*time.Millisecond})
		}
	}
	add("W1", Cold, "builder", 2*time.Second, 3*time.Second, 4*time.Second)
	add("W1", Cold, "buildah", 6*time.Second)
	add("W1", NoOp, "builder", 80*time.Millisecond)
	add("W1", NoOp, "buildah", time.Second)
	r.Fail(Key{"W1", OneFile, "builder"}, errors.New("run builder: exit 1: boom | at line 3"))
	add("W1", OneFile, "buildah", time.Second)
	r.Add(Key{"W3", Cold, "builder"}, Sample{Wall: time.Second, MaxRSS: 400 << 20, Work: -1})
	var b strings.Builder
	if err := r.WriteMarkdown(&b, "# title"); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		// builder/buildah: the perf issue turned the ratio around.
		"| W1 | cold | 3.00 s | 20 MB | 3 | 6.00 s | 20 MB | 1 | 0.50× |",
		"| W1 | no-op | 80 ms (50 ms outside steps) |",
		`| W1 | one-file | FAIL: run builder: exit 1: boom \| at line 3 |`,
		"- W1 no-op rebuild ≤ 100 ms: **met**",
		"- W1 one file changed ≤ 300 ms + work re-run: **NOT MET**",
		"W3 400 MB vs W1 20 MB",
		"- W3: big layer",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if c := r.Checks(); c[2].Met {
		t.Errorf("RSS check met with 400 MB vs 20 MB: %+v", c[2])
	}
}

func TestPhaseTimes(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) string { return t0.Add(time.Duration(ms) * time.Millisecond).Format(time.RFC3339Nano) }
	ev := func(ms, vertex int, name, status string, durMS int, data string) string {
		return `{"time":"` + at(ms) + `","vertex":` + itoa(vertex) + `,"name":"` + name + `","status":"` + status +
			`","duration":` + itoa(durMS*1e6) + `,"data":"` + data + `"}`
	}
	progress := strings.Join([]string{
		`{"time":"` + at(100) + `","status":"info","data":"isolation: namespace"}`,
		ev(300, 1, "[a 1/3] FROM busybox", "done", 200, ""),
		ev(300, 4, "[b 1/2] FROM busybox", "done", 150, ""),
		ev(400, 2, "[a 2/3] COPY . /ctx/", "cached", 0, ""),
		// b's RUN overlaps a's COPY for 100 ms: counted as RUN.
		ev(1400, 5, "[b 2/2] RUN sleep 1", "done", 1000, ""),
		ev(600, 3, "[a 3/3] COPY x /x", "done", 300, ""),
		ev(1400, 5, "[b 2/2] RUN sleep 1", "phase", 120, "diff"),
		"#0 plain text ignored",
	}, "\n")
	got, err := PhaseTimes([]byte(progress), t0, t0.Add(1600*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	want := map[string]time.Duration{
		PhaseStart:  100 * ms, // to the first event
		PhaseFrom:   200 * ms, // 100–300
		PhaseCopy:   100 * ms, // 300–400 (400–600 is under the RUN)
		PhaseRun:    1000 * ms,
		PhaseLookup: 0,        // 100–1400 is all steps
		PhaseExport: 200 * ms, // last step at 1400, exit at 1600
		"step:diff": 120 * ms,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], w, got)
		}
	}
	var sum time.Duration
	for _, k := range PhaseNames {
		sum += got[k]
	}
	if sum != 1600*ms {
		t.Errorf("phases add up to %v, want the wall time 1.6s", sum)
	}
}

func TestPhaseTable(t *testing.T) {
	r := NewResults()
	r.Add(Key{"W2", Cold, "builder"}, Sample{Wall: time.Second, Work: -1,
		Phases: map[string]time.Duration{PhaseStart: 20 * time.Millisecond, PhaseCopy: 900 * time.Millisecond, "step:compress": 400 * time.Millisecond}})
	r.Add(Key{"W2", Cold, "buildkit"}, Sample{Wall: 2 * time.Second, Work: -1})
	var b strings.Builder
	if err := r.WriteMarkdown(&b, ""); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"| workload | phase | builder wall | builder peak RSS | n | buildkit wall | buildkit peak RSS | n | builder/buildkit |",
		"| W2 | cold | 1.00 s | 0 MB | 1 | 2.00 s | 0 MB | 1 | 0.50× |",
		"| workload | phase | wall | start+parse | FROM | hashing+lookups | COPY | RUN | export+store | step:compress |",
		"| W2 | cold | 1.00 s | 20 ms | – | – | 900 ms | – | – | 400 ms |",
		"- W2 cold: builder/BuildKit ≤ 0.20×: **NOT MET** (0.50×: builder 1.00 s, BuildKit 2.00 s; builder's largest phase: COPY 900 ms)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestFindBuildKitDir(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := FindBuildKit(context.Background(), dir, t.TempDir(), "v0.0.0"); err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("empty BUILDKIT_BIN: err = %v, want one naming %s", err, dir)
	}
	for _, n := range []string{"buildkitd", "buildctl"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	d, c, err := FindBuildKit(context.Background(), dir, t.TempDir(), "v0.0.0")
	if err != nil || d != filepath.Join(dir, "buildkitd") || c != filepath.Join(dir, "buildctl") {
		t.Fatalf("FindBuildKit = %q, %q, %v", d, c, err)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
