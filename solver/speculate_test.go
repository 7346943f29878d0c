package solver

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/builderdev/builder/snapshot"
)

// TestDestReadsSameIn: the lookups a speculation recorded in one root are
// the same in a root that answers them alike, and not in one where an
// entry it looked at is missing, of another owner or mode, or where a file
// was read.
func TestDestReadsSameIn(t *testing.T) {
	mk := func(owner int, mode os.FileMode, withSub bool) *snapshot.View {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "app"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(filepath.Join(dir, "app"), owner, owner); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, "app"), mode); err != nil {
			t.Fatal(err)
		}
		if withSub {
			if err := os.Symlink("target", filepath.Join(dir, "app", "link")); err != nil {
				t.Fatal(err)
			}
		}
		when := time.Unix(1700000000, 0)
		if err := os.Chtimes(filepath.Join(dir, "app"), when, when); err != nil {
			t.Fatal(err)
		}
		return snapshot.NewView([]string{dir})
	}
	base := mk(0, 0o755, true)
	d := &destReads{fs: base}
	if _, err := d.Lstat("app"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Readlink("app/link"); err != nil {
		t.Fatal(err)
	}
	_, _ = d.Lstat("app/missing")
	if _, err := d.ReadDir("app"); err != nil {
		t.Fatal(err)
	}
	if !d.sameIn(base) || !d.sameIn(mk(0, 0o755, true)) {
		t.Errorf("not the same in the root it was recorded in or its twin")
	}
	for name, other := range map[string]*snapshot.View{
		"another owner": mk(7, 0o755, true),
		"another mode":  mk(0, 0o700, true),
		"no symlink":    mk(0, 0o755, false),
	} {
		if d.sameIn(other) {
			t.Errorf("the same in a root with %s", name)
		}
	}
	if rc, err := d.Open("app/link"); err == nil {
		rc.Close()
	}
	if d.sameIn(base) {
		t.Errorf("the same after a file was read through it")
	}
}
