package cache

import "context"

// lockBlobs takes the store's blob lock exclusively, for Prune: a blob it
// finds unused under the lock is not being reused (see store.BlobLock).
func (c *Cache) lockBlobs(ctx context.Context) (func(), error) {
	return c.store.BlobLock(ctx, true)
}
