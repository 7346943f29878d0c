package e2e_test

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
)

const sizeDockerfile = `FROM busybox
RUN head -c 100000 /dev/zero > /big && head -c 3000 /dev/zero > /over
RUN rm /big && head -c 5000 /dev/zero > /over
RUN mkdir -p /var/lib/apt/lists && head -c 7000 /dev/zero > /var/lib/apt/lists/deb_Packages
ENV A=1
`

// sizeReport is the part of `builder inspect --size --format json` the
// tests read.
type sizeReport struct {
	Name       string
	Wasted     int64
	Efficiency float64
	Layers     []struct {
		CreatedBy string `json:"created_by"`
		Size      int64
		Replaced  int64
		CacheLeft int64 `json:"cache_left"`
		Wasted    int64
		Caches    []struct {
			Path string
			Size int64
		}
		Largest []struct {
			Path string
			Size int64
		}
	}
}

// Where the bytes went, through the binary: build --report, the summary
// line's layers, inspect --size (wasted bytes exact, dive's score worked
// out by hand) and history against the image config.
func TestSizeReportAndHistory(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), sizeDockerfile)
	bb := busyboxContext(t)
	build := func() result {
		return mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--report", "--build-context", bb, "-t", "size:1", ctxDir)
	}
	r := build()
	for _, want := range []string{"== size report", "LAYER  SIZE", "wasted 100.59kB: overwritten or deleted by a later layer",
		"wasted 6.84kB: package cache left in /var/lib/apt/lists", "97.66kB  /big", "(dive's score)"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("build --report lacks %q:\n%s", want, r.stderr)
		}
	}
	layersLine := regexp.MustCompile(`, 3 steps run, 0 steps cached, (\d+) layers \((\d+) reused, (\d+) new\), `)
	m := layersLine.FindStringSubmatch(r.stderr)
	// A fresh store: the base's layers are imported, the RUNs' written.
	if m == nil || m[1] != "4" || m[2] != "0" || m[3] != "4" {
		t.Fatalf("cold build: summary does not say 4 layers, 0 reused, 4 new:\n%s", r.stderr)
	}
	r = build()
	if !strings.Contains(r.stderr, ", 0 steps run, 3 steps cached, 4 layers (4 reused, 0 new), ") {
		t.Errorf("rebuild: summary does not say every layer reused:\n%s", r.stderr)
	}

	// -q prints only the image ID on stdout; the report asked for still
	// comes on stderr.
	q := mustBuild(t, runOpts{}, "--root", root, "build", "-q", "--report", "--build-context", bb, "-t", "size:1", ctxDir)
	if !imageID.MatchString(strings.TrimSpace(q.stdout)) || !strings.Contains(q.stderr, "== size report") || strings.Contains(q.stderr, " steps run, ") {
		t.Errorf("build -q --report: stdout %q, stderr:\n%s", q.stdout, q.stderr)
	}

	ins := mustBuild(t, runOpts{}, "--root", root, "inspect", "--size", "--format", "json", "size:1")
	var rep sizeReport
	if err := json.Unmarshal([]byte(ins.stdout), &rep); err != nil {
		t.Fatalf("inspect --size --format json: %v\n%s", err, ins.stdout)
	}
	run1 := -1
	for i, l := range rep.Layers {
		if strings.Contains(l.CreatedBy, "head -c 100000") {
			run1 = i
		}
	}
	if run1 < 1 || run1+3 != len(rep.Layers) {
		t.Fatalf("layers: the 3 RUN layers are not last after the base:\n%s", ins.stdout)
	}
	first, second, third := rep.Layers[run1], rep.Layers[run1+1], rep.Layers[run1+2]
	// /big (100000) deleted and /over (3000) overwritten by the next RUN.
	if first.Replaced != 103000 || first.Wasted != 103000 || first.Size != 103000 {
		t.Errorf("first RUN layer: size %d replaced %d wasted %d, want 103000 for each", first.Size, first.Replaced, first.Wasted)
	}
	if len(first.Largest) != 2 || first.Largest[0].Path != "/big" || first.Largest[0].Size != 100000 || first.Largest[1].Path != "/over" {
		t.Errorf("first RUN layer's largest files: %+v", first.Largest)
	}
	if second.Wasted != 0 || second.Size != 5000 {
		t.Errorf("second RUN layer: size %d wasted %d, want 5000 and 0", second.Size, second.Wasted)
	}
	if third.CacheLeft != 7000 || third.Wasted != 7000 || len(third.Caches) != 1 || third.Caches[0].Path != "/var/lib/apt/lists" {
		t.Errorf("third RUN layer: cache left %d wasted %d caches %+v, want 7000 in /var/lib/apt/lists", third.CacheLeft, third.Wasted, third.Caches)
	}
	var base int64
	for _, l := range rep.Layers[:run1] {
		base += l.Size
		if l.Wasted != 0 {
			t.Errorf("base layer wastes %d bytes", l.Wasted)
		}
	}
	// dive: base files count once; /big 100000 then a whiteout (0);
	// /over 3000 then 5000; the apt list 7000.
	wantEff := float64(base+0+3000+7000) / float64(base+100000+8000+7000)
	if d := rep.Efficiency - wantEff; d > 1e-9 || d < -1e-9 {
		t.Errorf("efficiency %v, want %v", rep.Efficiency, wantEff)
	}
	if rep.Wasted != 110000 {
		t.Errorf("image wastes %d, want 110000", rep.Wasted)
	}

	// history: one row per config history entry, newest first.
	img := testenv.ReadLayout(t, filepath.Join(root, "oci"), "size:1")
	hist := img.Config.History
	h := mustBuild(t, runOpts{}, "--root", root, "history", "--format", "json", "size:1")
	var rows []struct {
		ID         string `json:"id"`
		CreatedBy  string `json:"created_by"`
		Created    string
		Size       int64
		EmptyLayer bool `json:"empty_layer"`
	}
	if err := json.Unmarshal([]byte(h.stdout), &rows); err != nil {
		t.Fatalf("history --format json: %v\n%s", err, h.stdout)
	}
	if len(rows) != len(hist) {
		t.Fatalf("%d history rows, want %d:\n%s", len(rows), len(hist), h.stdout)
	}
	for i, row := range rows {
		e := hist[len(hist)-1-i]
		empty, _ := e["empty_layer"].(bool)
		if row.CreatedBy != e["created_by"] || row.Created != e["created"] || row.EmptyLayer != empty {
			t.Errorf("row %d = %+v, config history %v", i, row, e)
		}
	}
	if !rows[0].EmptyLayer || rows[0].Size != 0 || !strings.HasPrefix(rows[0].ID, "sha256:") || rows[1].Size != 7000 || rows[2].Size != 5000 || rows[3].Size != 103000 {
		t.Errorf("history sizes: %+v", rows)
	}
	tbl := mustBuild(t, runOpts{}, "--root", root, "history", "size:1")
	lines := strings.Split(strings.TrimSpace(tbl.stdout), "\n")
	if len(lines) != len(hist)+1 || !strings.HasPrefix(lines[0], "IMAGE ") || !strings.Contains(lines[1], " ago ") ||
		!strings.Contains(lines[1], "0B") || !strings.Contains(lines[2], "7kB") || !strings.Contains(lines[4], "103kB") {
		t.Errorf("history table:\n%s", tbl.stdout)
	}
}
