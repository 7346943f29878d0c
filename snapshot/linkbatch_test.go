package snapshot

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/builderdev/builder/internal/cpulimit"
)

// TestLinkFromBatches: runs of files in one directory are linked as
// batches, by two goroutines once a batch is large enough, and the tree is
// the one a plain extraction makes: a changed file gets its own inode, a
// name given twice in a run ends with the later entry, a whiteout and a
// hard link entry in the middle of a run end its batch (the link's target
// gets an inode of its own, as before batches), and a directory entered
// again starts a new batch (where a name given again is created, as
// before batches: it is taken). With the CPU limiter full, batches link on
// one goroutine and make the same tree.
func TestLinkFromBatches(t *testing.T) {
	var oldEnts, newEnts []ent
	oldEnts = append(oldEnts, dir("d", 0o755))
	for i := 0; i < 40; i++ {
		oldEnts = append(oldEnts, file(fmt.Sprintf("d/f%02d", i), fmt.Sprint("v", i)))
	}
	oldEnts = append(oldEnts, dir("e", 0o755))
	for i := 0; i < 20; i++ {
		oldEnts = append(oldEnts, file(fmt.Sprintf("e/g%02d", i), fmt.Sprint("w", i)))
	}
	newEnts = append(newEnts, dir("d", 0o755))
	for i := 0; i < 30; i++ {
		body := fmt.Sprint("v", i)
		if i == 20 {
			body = "changed"
		}
		newEnts = append(newEnts, file(fmt.Sprintf("d/f%02d", i), body))
	}
	newEnts = append(newEnts, file("d/f05", "given twice"), file("d/.wh.f30", ""))
	for i := 31; i < 40; i++ {
		newEnts = append(newEnts, file(fmt.Sprintf("d/f%02d", i), fmt.Sprint("v", i)))
	}
	newEnts = append(newEnts, hardlink("d/h", "d/f01"), dir("e", 0o755))
	for i := 0; i < 20; i++ {
		newEnts = append(newEnts, file(fmt.Sprintf("e/g%02d", i), fmt.Sprint("w", i)))
	}
	newEnts = append(newEnts, file("d/late", "late"), file("d/f02", "v2"))
	oldLayer, newLayer := mkTar(t, oldEnts...), mkTar(t, newEnts...)

	full := cpulimit.New(1)
	release, err := full.Acquire(t.Context(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	for _, tc := range []struct {
		name string
		cpu  *cpulimit.Limiter
	}{{"two goroutines", nil}, {"limiter full", full}} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			old, plain, linked := filepath.Join(root, "old"), filepath.Join(root, "plain"), filepath.Join(root, "linked")
			extractTo(t, old, oldLayer)
			extractTo(t, plain, newLayer)
			extractTo(t, linked, newLayer, WithLinkFrom(old), func(o *extractOptions) { o.cpu = tc.cpu })
			if diff := cmp.Diff(withoutNlink(tree(t, plain)), withoutNlink(tree(t, linked))); diff != "" {
				t.Errorf("linked extraction differs from a plain one (-plain +linked):\n%s", diff)
			}
			for name, wantShared := range map[string]bool{
				"d/f00": true, "d/f19": true, "d/f21": true, "d/f39": true, "e/g00": true, "e/g19": true,
				"d/f20": false, // changed
				"d/f05": false, // the later entry's bytes
				"d/f01": false, // a hard link entry's target: an inode of its own
				"d/f02": false, // given again later: its name is taken, it is created (as before batches)
			} {
				shared := inode(t, filepath.Join(old, name)) == inode(t, filepath.Join(linked, name))
				if shared != wantShared {
					t.Errorf("%s: shares the earlier layer's inode: %v, want %v", name, shared, wantShared)
				}
			}
		})
	}
}
