package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/builderdev/builder/procowner"
)

// pruneRoots is what pruning must keep whatever the options.
type pruneRoots struct {
	tagBlobs   map[v1.Hash]bool // blobs reachable from index.json
	tagDiffIDs map[string]bool  // diffID hex of tagged images' layers
	leased     map[v1.Hash]bool // digests and diffIDs of running builds
	// liveBuilds: some process holds a lease. Blobs and extracted layers
	// written at or after guard may be theirs before they lease them.
	liveBuilds bool
	guard      time.Time
}

func (c *Cache) pruneRoots(ctx context.Context) (*pruneRoots, error) {
	rs := &pruneRoots{tagBlobs: map[v1.Hash]bool{}, tagDiffIDs: map[string]bool{}}
	leased, err := c.store.InUse(ctx) // also drops leases of dead builds
	if err != nil {
		return nil, err
	}
	rs.leased = leased
	rs.liveBuilds, rs.guard = liveLeases(filepath.Join(c.store.Root(), "locks"))
	raw, err := os.ReadFile(filepath.Join(c.store.OCIDir(), "index.json"))
	if err != nil {
		return nil, fmt.Errorf("read store index: %w", err)
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("read store index: %w", err)
	}
	for _, d := range idx.Manifests {
		if err := c.markTagged(ctx, rs, d, 0); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

// markTagged marks a manifest or index of index.json and everything it
// references. Missing blobs (an index's other platforms) are skipped.
func (c *Cache) markTagged(ctx context.Context, rs *pruneRoots, d v1.Descriptor, depth int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if depth > 8 || rs.tagBlobs[d.Digest] {
		return nil
	}
	rs.tagBlobs[d.Digest] = true
	raw, err := os.ReadFile(c.store.BlobPath(d.Digest))
	if err != nil {
		return nil
	}
	var probe struct {
		MediaType types.MediaType `json:"mediaType"`
		Manifests []v1.Descriptor `json:"manifests"`
		Config    *v1.Descriptor  `json:"config"`
		Layers    []v1.Descriptor `json:"layers"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return nil
	}
	for _, m := range probe.Manifests {
		if err := c.markTagged(ctx, rs, m, depth+1); err != nil {
			return err
		}
	}
	for _, l := range probe.Layers {
		rs.tagBlobs[l.Digest] = true
	}
	if probe.Config == nil {
		return nil
	}
	rs.tagBlobs[probe.Config.Digest] = true
	cfgRaw, err := os.ReadFile(c.store.BlobPath(probe.Config.Digest))
	if err != nil {
		return nil
	}
	var cfg struct {
		RootFS struct {
			DiffIDs []v1.Hash `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if json.Unmarshal(cfgRaw, &cfg) == nil {
		for _, h := range cfg.RootFS.DiffIDs {
			rs.tagDiffIDs[h.Hex] = true
		}
	}
	return nil
}

// liveLeases reports whether lease files remain in locksDir (InUse has
// just removed those of dead owners) and the earliest start of their
// owners, less a margin. Lease files are named by the store
// "lease-<pid>-<start ticks>-…". An owner whose start cannot be read makes
// the guard the epoch: then nothing unreferenced is removed.
func liveLeases(locksDir string) (bool, time.Time) {
	ents, _ := readDir(locksDir)
	var guard time.Time
	live := false
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), "lease-")
		if !ok {
			continue
		}
		live = true
		_, ticks, ok := procowner.Parse(rest)
		var start time.Time
		if ok && ticks != 0 {
			start, ok = procowner.Started(ticks)
		}
		if !ok || ticks == 0 {
			return true, time.Unix(0, 0)
		}
		start = start.Add(-5 * time.Second)
		if guard.IsZero() || start.Before(guard) {
			guard = start
		}
	}
	return live, guard
}
