package snapshot

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/builderdev/builder/internal/procowner"
)

// TestEnsureCleansDeadExtractions checks that the first Ensure removes the
// extraction directories of dead processes and only those.
func TestEnsureCleansDeadExtractions(t *testing.T) {
	requireRoot(t)
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := cmd.Process.Pid
	self := os.Getpid()
	_, start, ok := procowner.Parse(procowner.Tag())
	if !ok {
		t.Fatal("cannot read own start time")
	}
	layer := mkTar(t, file("f", "f"))
	cases := []struct {
		name string
		keep bool
	}{
		{".tmp-" + strconv.Itoa(dead) + "-12345-0123456789ab-111", false},
		{".tmp-" + strconv.Itoa(self) + "-" + strconv.FormatUint(start+1, 10) + "-0123456789ab-222", false}, // pid reused
		{".tmp-" + procowner.Tag() + "0123456789ab-333", true},                                              // running
		{".tmp-" + strconv.Itoa(self) + "-0-0123456789ab-444", true},                                        // start unknown
		{".tmp-0123456789ab-555", true},                                                                     // not named by us: left alone
		{".del-0123456789ab", true},                                                                         // a prune's leftover: not ours
		{"0123456789ab-not-a-layer", true},                                                                  // unrelated
	}
	dir := t.TempDir()
	for _, c := range cases {
		p := filepath.Join(dir, c.name)
		mustDo(t, os.MkdirAll(filepath.Join(p, "sub"), 0o755))
		mustDo(t, os.WriteFile(filepath.Join(p, "sub", "f"), []byte("x"), 0o644))
		mustDo(t, os.Chmod(filepath.Join(p, "sub"), 0)) // extracted dirs may be unreadable
	}
	l := NewLayers(dir)
	got, err := l.Ensure(context.Background(), diffID(layer), opener(layer))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Base(got)}
	for _, c := range cases {
		if c.keep {
			want = append(want, c.name)
		}
	}
	sort.Strings(want)
	var names []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if d := cmp.Diff(want, names); d != "" {
		t.Errorf("layers dir (-want +got):\n%s", d)
	}
	// A leftover appearing later is not removed by the same Layers (the
	// cleanup runs once), but by the next one.
	late := filepath.Join(dir, cases[0].name)
	mustDo(t, os.Mkdir(late, 0o755))
	if _, err := l.Ensure(context.Background(), diffID(layer), opener(layer)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(late); err != nil {
		t.Errorf("second Ensure of one Layers cleaned again: %v", err)
	}
	if _, err := NewLayers(dir).Ensure(context.Background(), diffID(layer), opener(layer)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(late); !os.IsNotExist(err) {
		t.Errorf("new Layers did not clean %s: %v", late, err)
	}
}
