package filecopy

import (
	"bytes"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPlanMkdirAndLayer(t *testing.T) {
	root := mkTree(t, d("srv", 0o750), d("srv/app", 0o700), f("srv/file", 0o644, "x"))
	fsys := DirFS(root, nil)
	plan, err := PlanMkdir(fsys, "srv/app/data/cache")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"srv/app/data", "srv/app/data/cache"}, plan.Missing); diff != "" {
		t.Errorf("missing (-want +got):\n%s", diff)
	}
	var buf bytes.Buffer
	if err := plan.WriteLayer(&buf, 1000, 1001, stepTime.Add(500)); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range readTar(t, buf.Bytes()) {
		got = append(got, entryString(e.hdr, e.content)+" "+e.hdr.ModTime.UTC().Format("2006"))
	}
	// Existing parents as they are (srv keeps its source mtime), the
	// innermost existing one and the new ones dated as the step.
	want := []string{"srv/ 5 0750 0:0 2001", "srv/app/ 5 0700 0:0 2020", "srv/app/data/ 5 0755 1000:1001 2020", "srv/app/data/cache/ 5 0755 1000:1001 2020"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("layer (-want +got):\n%s", diff)
	}

	if plan, err := PlanMkdir(fsys, "srv/app"); err != nil || len(plan.Missing) != 0 {
		t.Errorf("existing dir: %+v, %v; want nothing missing", plan, err)
	}
	if _, err := PlanMkdir(fsys, "srv/file"); !errors.Is(err, ErrNotDir) || err.Error() != "/srv/file is not a directory" {
		t.Errorf("a file: %v, want '/srv/file is not a directory'", err)
	}
}
