package store

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestOpenSkipsStaleEntryInUse: a dead process's temp entry that cannot be
// removed yet (what a RUN of a build killed a moment ago still writes
// into) does not fail the open; the other stale entries go, and a later
// open removes it.
func TestOpenSkipsStaleEntryInUse(t *testing.T) {
	chattr, err := exec.LookPath("chattr")
	if err != nil {
		t.Skip("no chattr (e2fsprogs)")
	}
	root := t.TempDir()
	if _, err := Open(root); err != nil {
		t.Fatal(err)
	}
	dead := strconv.Itoa(os.Getpid()) + "-1-" // this pid, another start: gone
	busy := filepath.Join(root, "tmp", dead+"snapshots-1")
	other := filepath.Join(root, "tmp", dead+"exec-2")
	for _, d := range []string{filepath.Join(busy, "w", "work"), other} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pinned := filepath.Join(busy, "w", "work", "f")
	if err := os.WriteFile(pinned, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(chattr, "+i", pinned).CombinedOutput(); err != nil {
		t.Skipf("chattr +i: %v: %s", err, out)
	}
	defer exec.Command(chattr, "-i", pinned).Run()

	if _, err := Open(root); err != nil {
		t.Fatalf("open with a stale entry in use: %v", err)
	}
	if _, err := os.Stat(other); !os.IsNotExist(err) {
		t.Errorf("the other stale entry is still there (%v)", err)
	}
	if _, err := os.Stat(pinned); err != nil {
		t.Errorf("the entry in use went: %v", err)
	}
	if out, err := exec.Command(chattr, "-i", pinned).CombinedOutput(); err != nil {
		t.Fatalf("chattr -i: %v: %s", err, out)
	}
	if _, err := Open(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(busy); !os.IsNotExist(err) {
		t.Errorf("a later open left the stale entry (%v)", err)
	}
}
