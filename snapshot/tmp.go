package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/builderdev/builder/internal/procowner"
)

// Extraction directories in the layers directory are named
// ".tmp-<pid>-<starttime>-<diffID prefix>-<random>", starttime being the
// process start time from /proc/<pid>/stat (the naming store uses for its
// tmp/ entries, see procowner), so that leftovers of a crashed process can be told from
// extractions still running, even once the pid is reused.
const tmpPrefix = ".tmp-"

// cleanTmp removes the extraction directories in dir whose process is dead.
// Names it did not make are left alone.
func cleanTmp(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("clean layers dir: %w", err)
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), tmpPrefix)
		if !ok || !procowner.Gone(rest) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("remove stale extraction %s: %w", e.Name(), err)
		}
	}
	return nil
}
