package layer

import (
	"errors"
	"testing"

	"golang.org/x/sys/unix"
)

func TestBudget(t *testing.T) {
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)

	b := NewBudget(dir, 100)
	if err := b.Add(60); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(60); !errors.Is(err, ErrExtractLimit) {
		t.Fatalf("120 of 100 bytes: err = %v", err)
	}

	// default: a write that would leave under 5% of the disk free fails
	b = NewBudget(dir, 0)
	for i := 0; i < 20; i++ { // small writes are checked every few MiB
		if err := b.Add(1 << 20); err != nil && free > 1<<30 {
			t.Fatalf("1 MiB on a disk with %d free: %v", free, err)
		}
	}
	err := b.Add(free)
	if !errors.Is(err, ErrExtractLimit) {
		t.Fatalf("writing all free space: err = %v", err)
	}
	want := "less than 5% free space (set --max-extract-size to choose a limit)"
	if got := err.Error(); len(got) < len(want) || got[len(got)-len(want):] != want {
		t.Errorf("error %q does not end with %q", got, want)
	}

	if err := NewBudget(dir, -1).Add(free * 2); err != nil {
		t.Errorf("unbounded budget: %v", err)
	}
	var nilBudget *Budget
	if err := nilBudget.Add(1); err != nil {
		t.Errorf("nil budget: %v", err)
	}
}
