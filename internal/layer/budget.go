package layer

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// ErrExtractLimit is wrapped by the error of an extraction that wrote more
// than its Budget allows.
var ErrExtractLimit = errors.New("extraction limit reached")

// MinFreePercent is the share of a disk an unlimited Budget keeps free.
const MinFreePercent = 5

// checkEvery is how many bytes a free-space Budget writes between statfs.
const checkEvery = 8 << 20

// Budget bounds how many bytes one extraction writes: at most Max bytes when
// Max > 0; when Max is 0, so many that the disk holding Dir keeps
// MinFreePercent of its space free; no bound when Max < 0. It stops
// compression bombs with a clear error instead of a full disk.
type Budget struct {
	Dir string
	Max int64

	used, unchecked int64
}

// NewBudget returns the Budget for an extraction into dir.
func NewBudget(dir string, max int64) *Budget { return &Budget{Dir: dir, Max: max} }

// Add counts n more bytes about to be written (the size an entry declares) and reports ErrExtractLimit
// when they would go over the budget. A nil Budget allows everything.
func (b *Budget) Add(n int64) error {
	if b == nil || b.Max < 0 {
		return nil
	}
	b.used += n
	if b.Max > 0 {
		if b.used > b.Max {
			return fmt.Errorf("%w: extracting over %d bytes (the limit of --max-extract-size)", ErrExtractLimit, b.Max)
		}
		return nil
	}
	b.unchecked += n
	if b.unchecked < checkEvery {
		return nil
	}
	b.unchecked = 0
	var st unix.Statfs_t
	if err := unix.Statfs(b.Dir, &st); err != nil {
		return nil // no figure to check against; the write itself will fail
	}
	total := int64(st.Blocks) * int64(st.Bsize)
	free := int64(st.Bavail) * int64(st.Bsize)
	if free-n < total*MinFreePercent/100 {
		return fmt.Errorf("%w: extracting %d bytes would leave the disk of %s less than %d%% free space (set --max-extract-size to choose a limit)",
			ErrExtractLimit, b.used, b.Dir, MinFreePercent)
	}
	return nil
}
