package bench

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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
		"| W1 | cold | 3.00 s | 20 MB | 3 | 6.00 s | 20 MB | 1 | 2.00× |",
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
