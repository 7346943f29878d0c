package snapshot

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/builderdev/builder/internal/mount"
)

// TestSymlinkAcrossLayers pins what happens when a layer writes below a
// name that is a symlink with a missing target in a lower layer. Apply onto
// the lower root follows the symlink and creates the target inside the root
// (containerd's archive.Apply); layers extracted alone (Ensure) and merged by
// the snapshotters hide the symlink behind the layer's own directory (Docker's
// overlay2 graph driver). Both stay inside the root.
func TestSymlinkAcrossLayers(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	l1 := mkTar(t, symlink("s", "/OUT"), symlink("r", "../../OUT2"))
	l2 := mkTar(t, file("s/escape", "x"), file("r/escape", "y"))
	work := t.TempDir()

	applied := filepath.Join(work, "applied", "root")
	mustDo(t, os.MkdirAll(applied, 0o755))
	for _, b := range [][]byte{l1, l2} {
		mustDo(t, Apply(ctx, applied, bytes.NewReader(b)))
	}
	got := tree(t, applied)
	for n, typ := range map[string]os.FileMode{"s": os.ModeSymlink, "r": os.ModeSymlink, "OUT": os.ModeDir,
		"OUT/escape": 0, "OUT2": os.ModeDir, "OUT2/escape": 0} {
		if e, ok := got[n]; !ok || e.Type != typ {
			t.Errorf("apply: %s is %+v (present %v), want type %v", n, e, ok, typ)
		}
	}
	if len(got) != 6 {
		t.Errorf("apply: %d entries, want 6: %v", len(got), sortedKeys(got))
	}

	lowers := ensureAll(t, NewLayers(filepath.Join(work, "layers")), l1, l2)
	for _, kind := range []string{"overlay", "copy"} {
		t.Run(kind, func(t *testing.T) {
			var s Snapshotter
			var err error
			if kind == "overlay" {
				s, err = NewOverlay(filepath.Join(work, kind))
			} else {
				s, err = NewCopy(filepath.Join(work, kind))
			}
			mustDo(t, err)
			a, err := s.Prepare(ctx, lowers)
			mustDo(t, err)
			defer a.Release(ctx)
			mnt := filepath.Join(work, kind+"-mnt")
			mustDo(t, os.Mkdir(mnt, 0o755))
			for _, m := range a.Mounts() {
				mustDo(t, m.MountAt(mnt))
			}
			got := tree(t, mnt)
			mustDo(t, mount.Unmount(mnt))
			for n, typ := range map[string]os.FileMode{"s": os.ModeDir, "s/escape": 0, "r": os.ModeDir, "r/escape": 0} {
				if e, ok := got[n]; !ok || e.Type != typ {
					t.Errorf("%s is %+v (present %v), want type %v", n, e, ok, typ)
				}
			}
			if len(got) != 4 {
				t.Errorf("%d entries, want 4: %v", len(got), sortedKeys(got))
			}
			if m := mountsUnder(t, work); len(m) != 0 {
				t.Errorf("mounts left behind: %v", m)
			}
		})
	}
	if ents, _ := os.ReadDir(filepath.Dir(applied)); len(ents) != 1 {
		t.Errorf("apply wrote next to the root: %v", ents)
	}
	if ents, _ := os.ReadDir(work); len(ents) != 6 {
		t.Errorf("work dir holds %d entries, want 6", len(ents))
	}
}
