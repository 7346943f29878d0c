package cache

import (
	"context"

	"github.com/builderdev/builder/store"
)

// pruneRoots is what pruning must keep whatever the options.
type pruneRoots struct {
	tagged *store.Tagged // what the tagged images use
	leases *store.Leases // what running builds use, and since when they run
}

func (c *Cache) pruneRoots(ctx context.Context) (*pruneRoots, error) {
	leases, err := c.store.ActiveLeases(ctx) // also drops leases of dead builds
	if err != nil {
		return nil, err
	}
	tagged, err := c.store.TaggedBlobs(ctx)
	if err != nil {
		return nil, err
	}
	return &pruneRoots{tagged: tagged, leases: leases}, nil
}
