package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// PruneOptions say what Prune may remove.
type PruneOptions struct {
	// All removes every cache record (and the RUN --mount=type=cache
	// directories when no build runs). Without it, only records whose layer
	// no tagged image uses are removed ("dangling" cache, as Docker says);
	// blobs and extracted layers nothing references go either way.
	All bool
	// KeepStorage stops pruning once the root's records, blobs, extracted
	// layers and cache mounts take at most this many bytes (0: no limit).
	KeepStorage int64
	// Until removes only what was last used longer ago than this (0: any).
	Until time.Duration
}

// PruneReport says what Prune removed.
type PruneReport struct {
	Records     int
	Blobs       int
	Layers      int
	CacheMounts int
	Freed       int64 // bytes
}

// Prune removes cache records, least recently used first (Get marks a
// record used), then what nothing references any more: blobs no tagged
// image (manifests, index children, configs, layers), remaining record or
// running build (store lease) uses, and extracted layers whose diffID none
// of those uses. It never removes what a tag or a running build uses. Two
// prunes of one root exclude each other through the store's GC lock. The
// store removes; Prune only decides what.
func (c *Cache) Prune(ctx context.Context, opts PruneOptions) (PruneReport, error) {
	unlock, err := c.store.LockGC(ctx)
	if err != nil {
		return PruneReport{}, fmt.Errorf("prune: %w", err)
	}
	defer unlock()
	inv, err := c.scan(ctx)
	if err != nil {
		return PruneReport{}, fmt.Errorf("prune: %w", err)
	}
	rs, err := c.pruneRoots(ctx)
	if err != nil {
		return PruneReport{}, fmt.Errorf("prune: %w", err)
	}
	p := newPlan(inv, rs, opts, time.Now())
	rep, err := p.run(ctx, c)
	if err != nil {
		return rep, fmt.Errorf("prune: %w", err)
	}
	rep.Freed += c.cleanIndex(inv, p.goneRecords, false)
	// Records of recompressed layers whose blob went are stale now.
	if _, err := c.store.PruneConversions(ctx); err != nil {
		return rep, fmt.Errorf("prune: %w", err)
	}
	// So are link hints to extracted layers that went.
	if _, err := c.store.PruneLinkHints(ctx); err != nil {
		return rep, fmt.Errorf("prune: %w", err)
	}
	// And indexes of layer blobs that went.
	if _, err := c.store.PruneLayerIndexes(ctx); err != nil {
		return rep, fmt.Errorf("prune: %w", err)
	}
	return rep, nil
}

// pruneItem is one thing Prune may remove, in least-recently-used order.
type pruneItem struct {
	used   time.Time
	record *recordEntry
	blob   *v1.Hash
	layer  *v1.Hash // diffID
	mount  string   // cache mount name
}

// plan decides what goes, tracking references as records are removed, so
// that DiskUsage can run it dry.
type plan struct {
	inv         *inventory
	rs          *pruneRoots
	opts        PruneOptions
	now         time.Time
	refBlob     map[v1.Hash]int
	refDiff     map[v1.Hash]int
	goneRecords map[string]bool // record paths removed
	goneBlobs   map[v1.Hash]bool
	goneLayers  map[v1.Hash]bool
	total       int64
}

func newPlan(inv *inventory, rs *pruneRoots, opts PruneOptions, now time.Time) *plan {
	p := &plan{inv: inv, rs: rs, opts: opts, now: now,
		refBlob: map[v1.Hash]int{}, refDiff: map[v1.Hash]int{},
		goneRecords: map[string]bool{}, goneBlobs: map[v1.Hash]bool{}, goneLayers: map[v1.Hash]bool{}}
	for _, re := range inv.records {
		if re.rec != nil && re.rec.Layer != nil {
			p.refBlob[re.rec.Layer.Digest]++
			p.refDiff[re.rec.Layer.DiffID]++
		}
	}
	p.total = inv.recordsSize + inv.st.LayersSize + inv.st.CacheMountsSize + inv.st.BlobsSize()
	return p
}

// old reports whether something last used at t is outside the Until window.
func (p *plan) old(t time.Time) bool {
	return p.opts.Until <= 0 || t.Before(p.now.Add(-p.opts.Until))
}

// young reports whether t is recent enough that a running build may have
// written it and not yet recorded it in its lease.
func (p *plan) young(t time.Time) bool {
	return p.rs.leases.Live && !t.Before(p.rs.leases.Since)
}

func (p *plan) blobFree(h v1.Hash) bool {
	b, ok := p.inv.st.Blobs[h]
	return ok && !p.goneBlobs[h] && p.refBlob[h] == 0 && !p.rs.tagged.Blobs[h] && !p.rs.leases.InUse[h] && !p.young(b.ModTime)
}

func (p *plan) layerFree(diffID v1.Hash) bool {
	l, ok := p.inv.st.Layers[diffID]
	return ok && !p.goneLayers[diffID] && p.refDiff[diffID] == 0 && !p.rs.tagged.DiffIDs[diffID] &&
		!p.rs.leases.InUse[diffID] && !p.young(l.ModTime)
}

// candidates lists what may go, least recently used first.
func (p *plan) candidates() []pruneItem {
	var items []pruneItem
	for _, re := range p.inv.records {
		dangling := re.rec == nil || re.rec.Layer != nil &&
			!p.rs.tagged.Blobs[re.rec.Layer.Digest] && !p.rs.tagged.DiffIDs[re.rec.Layer.DiffID]
		if (p.opts.All || dangling) && p.old(re.used) {
			items = append(items, pruneItem{used: re.used, record: re})
		}
	}
	for h, b := range p.inv.st.Blobs {
		if p.blobFree(h) && p.old(b.ModTime) {
			items = append(items, pruneItem{used: b.ModTime, blob: &h})
		}
	}
	for id, l := range p.inv.st.Layers {
		if p.layerFree(id) && p.old(l.ModTime) {
			items = append(items, pruneItem{used: l.ModTime, layer: &id})
		}
	}
	if p.opts.All && !p.rs.leases.Live {
		for name, m := range p.inv.st.CacheMounts {
			if p.old(m.ModTime) {
				items = append(items, pruneItem{used: m.ModTime, mount: name})
			}
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].used.Before(items[j].used) })
	return items
}

// remover carries out a plan; nil runs it dry. Each method reports whether
// the thing went (the store keeps what became used since the scan).
type remover interface {
	removeRecord(path string) error
	removeBlob(ctx context.Context, h v1.Hash, lastUsed time.Time) (bool, error)
	removeLayer(ctx context.Context, diffID v1.Hash) (bool, error)
	removeCacheMount(ctx context.Context, name string) (bool, error)
}

func (p *plan) run(ctx context.Context, rm remover) (PruneReport, error) {
	var rep PruneReport
	for _, it := range p.candidates() {
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if p.opts.KeepStorage > 0 && p.total <= p.opts.KeepStorage {
			break
		}
		switch {
		case it.record != nil:
			if rm != nil {
				if err := rm.removeRecord(it.record.path); err != nil {
					return rep, err
				}
			}
			p.goneRecords[it.record.path] = true
			p.count(it.record.size, &rep.Records, &rep)
			if r := it.record.rec; r != nil && r.Layer != nil {
				p.refBlob[r.Layer.Digest]--
				p.refDiff[r.Layer.DiffID]--
				if err := p.dropBlob(ctx, rm, r.Layer.Digest, &rep); err != nil {
					return rep, err
				}
				if err := p.dropLayer(ctx, rm, r.Layer.DiffID, &rep); err != nil {
					return rep, err
				}
			}
		case it.mount != "":
			if err := p.dropMount(ctx, rm, it.mount, &rep); err != nil {
				return rep, err
			}
		case it.layer != nil:
			if err := p.dropLayer(ctx, rm, *it.layer, &rep); err != nil {
				return rep, err
			}
		default:
			if err := p.dropBlob(ctx, rm, *it.blob, &rep); err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

func (p *plan) dropBlob(ctx context.Context, rm remover, h v1.Hash, rep *PruneReport) error {
	if !p.blobFree(h) {
		return nil
	}
	b := p.inv.st.Blobs[h]
	if rm != nil {
		// A build may have hit (Get marks the blob) or leased it since the
		// scan: the store then keeps it.
		if removed, err := rm.removeBlob(ctx, h, b.ModTime); err != nil || !removed {
			return err
		}
	}
	p.goneBlobs[h] = true
	p.count(b.Size, &rep.Blobs, rep)
	return nil
}

func (p *plan) dropLayer(ctx context.Context, rm remover, diffID v1.Hash, rep *PruneReport) error {
	if !p.layerFree(diffID) {
		return nil
	}
	if rm != nil {
		if removed, err := rm.removeLayer(ctx, diffID); err != nil || !removed {
			return err
		}
	}
	p.goneLayers[diffID] = true
	p.count(p.inv.st.Layers[diffID].Size, &rep.Layers, rep)
	return nil
}

func (p *plan) dropMount(ctx context.Context, rm remover, name string, rep *PruneReport) error {
	if rm != nil {
		if removed, err := rm.removeCacheMount(ctx, name); err != nil || !removed {
			return err
		}
	}
	p.count(p.inv.st.CacheMounts[name].Size, &rep.CacheMounts, rep)
	return nil
}

// count books size bytes as freed by one more removal counted in n.
func (p *plan) count(size int64, n *int, rep *PruneReport) {
	p.total -= size
	*n++
	rep.Freed += size
}

// entry describes a record for DiskUsage, before anything is removed.
func (p *plan) entry(re *recordEntry) UsageEntry {
	e := UsageEntry{Key: re.key, Size: re.size, LastUsed: re.used}
	if re.rec == nil {
		e.Description = "(damaged record)"
		return e
	}
	e.Description = re.rec.Description
	if l := re.rec.Layer; l != nil {
		e.InUse = p.rs.leases.InUse[l.Digest] || p.rs.leases.InUse[l.DiffID]
		e.Shared = p.rs.tagged.Blobs[l.Digest] || p.refBlob[l.Digest] > 1
		if !e.Shared && !e.InUse {
			if b, ok := p.inv.st.Blobs[l.Digest]; ok {
				e.Size += b.Size
			}
			if d, ok := p.inv.st.Layers[l.DiffID]; ok && p.refDiff[l.DiffID] <= 1 && !p.rs.tagged.DiffIDs[l.DiffID] {
				e.Size += d.Size
			}
		}
	}
	return e
}

var _ remover = (*Cache)(nil)

func (c *Cache) removeRecord(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

func (c *Cache) removeBlob(ctx context.Context, h v1.Hash, lastUsed time.Time) (bool, error) {
	return c.store.RemoveBlob(ctx, h, lastUsed)
}

func (c *Cache) removeLayer(ctx context.Context, diffID v1.Hash) (bool, error) {
	return c.store.RemoveLayer(ctx, diffID)
}

func (c *Cache) removeCacheMount(ctx context.Context, name string) (bool, error) {
	return c.store.RemoveCacheMount(ctx, name)
}

// cleanIndex removes entries of the last/ index whose record is gone (or
// in gone) and returns the bytes freed; dry only counts them.
func (c *Cache) cleanIndex(inv *inventory, gone map[string]bool, dry bool) int64 {
	var freed int64
	for _, p := range inv.lastFiles {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		key, err := v1.NewHash(strings.TrimSpace(string(data)))
		if err == nil && !gone[c.recordPath(key)] {
			if _, err := os.Stat(c.recordPath(key)); err == nil || !errors.Is(err, os.ErrNotExist) {
				continue
			}
		}
		if dry || os.Remove(p) == nil {
			freed += int64(len(data))
		}
	}
	return freed
}
