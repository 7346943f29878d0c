package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// The blob lock (root/locks/blobs.lock) orders reusing a blob against
// pruning it. Whoever relies on a blob that is already there (a cache hit,
// a tag or an import that skips writing it) holds the lock shared while it
// checks the blob and marks it used (its mtime); a prune holds it exclusive
// while it checks that a blob is unused (not marked since its scan, not
// leased, not referenced) and removes it. So a reuse either finds the blob
// gone and writes it again, or keeps it.

// BlobLock takes the blob lock, shared or exclusive, until unlock is called.
func (s *Store) BlobLock(ctx context.Context, exclusive bool) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(s.locksDir(), "blobs.lock"), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock blobs: %w", err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
		if cerr := ctx.Err(); cerr != nil {
			err = cerr
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock blobs: %w", err)
	}
	return func() { f.Close() }, nil // closing the last descriptor releases the flock
}

// ReuseBlob reports whether blob h is in the store and, when it is, marks
// it used now under the blob lock, so a concurrent prune keeps it.
func (s *Store) ReuseBlob(ctx context.Context, h v1.Hash) (bool, error) {
	unlock, err := s.BlobLock(ctx, false)
	if err != nil {
		return false, err
	}
	defer unlock()
	return s.markBlob(h), nil
}

// markBlob touches blob h; false when it is not there. Callers hold the
// blob lock.
func (s *Store) markBlob(h v1.Hash) bool {
	if !s.hasBlob(h) {
		return false
	}
	now := time.Now()
	return os.Chtimes(s.BlobPath(h), now, now) == nil
}
