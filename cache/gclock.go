package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// The blob lock (root/locks/cache-blobs.lock) orders Get against Prune for
// one blob: Get holds it shared while it checks that the blob is there and
// marks it used; Prune holds it exclusive while it checks that a blob is
// unused (not marked since its scan, not leased) and removes it. So a Get
// either misses or returns a record whose blob stays until its caller has
// leased it (the caller then has a lease older than the mark).
func (c *Cache) blobLock(ctx context.Context, how int) (func(), error) {
	f, err := os.OpenFile(filepath.Join(c.store.Root(), "locks", "cache-blobs.lock"), os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock cache blobs: %w", err)
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
		return nil, fmt.Errorf("lock cache blobs: %w", err)
	}
	return func() { f.Close() }, nil // closing the last descriptor releases the flock
}

// lockBlobs takes the blob lock exclusively, for Prune.
func (c *Cache) lockBlobs(ctx context.Context) (func(), error) {
	return c.blobLock(ctx, unix.LOCK_EX)
}
