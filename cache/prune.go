package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
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
// prunes of one root exclude each other through the store lock "prune".
func (c *Cache) Prune(ctx context.Context, opts PruneOptions) (PruneReport, error) {
	unlock, err := c.store.Lock(ctx, "prune")
	if err != nil {
		return PruneReport{}, fmt.Errorf("prune: %w", err)
	}
	defer unlock()
	c.removeLeftovers()
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
	rep.Freed += c.cleanIndex(inv, p.gone, false)
	// Records of recompressed layers whose blob went are stale now.
	if _, err := c.store.PruneConversions(ctx); err != nil {
		return rep, fmt.Errorf("prune: %w", err)
	}
	return rep, nil
}

// pruneItem is one thing Prune may remove, in least-recently-used order.
type pruneItem struct {
	used   time.Time
	record *recordEntry
	blob   v1.Hash
	layer  string // diffID hex
	mount  *fileEntry
}

// plan decides what goes, tracking references as records are removed, so
// that DiskUsage can run it dry.
type plan struct {
	inv     *inventory
	rs      *pruneRoots
	opts    PruneOptions
	now     time.Time
	refBlob map[v1.Hash]int
	refDiff map[string]int
	gone    map[string]bool // paths removed
	total   int64
}

func newPlan(inv *inventory, rs *pruneRoots, opts PruneOptions, now time.Time) *plan {
	p := &plan{inv: inv, rs: rs, opts: opts, now: now,
		refBlob: map[v1.Hash]int{}, refDiff: map[string]int{}, gone: map[string]bool{}}
	for _, re := range inv.records {
		if re.rec != nil && re.rec.Layer != nil {
			p.refBlob[re.rec.Layer.Digest]++
			p.refDiff[re.rec.Layer.DiffID.Hex]++
		}
	}
	p.total = inv.recordsSize + inv.layersSize + inv.mountsSize
	for _, b := range inv.blobs {
		p.total += b.size
	}
	return p
}

// old reports whether something last used at t is outside the Until window.
func (p *plan) old(t time.Time) bool {
	return p.opts.Until <= 0 || t.Before(p.now.Add(-p.opts.Until))
}

// young reports whether t is recent enough that a running build may have
// written it and not yet recorded it in its lease.
func (p *plan) young(t time.Time) bool {
	return p.rs.liveBuilds && !t.Before(p.rs.guard)
}

func (p *plan) blobFree(h v1.Hash) bool {
	b, ok := p.inv.blobs[h]
	return ok && !p.gone[b.path] && p.refBlob[h] == 0 && !p.rs.tagBlobs[h] && !p.rs.leased[h] && !p.young(b.mtime)
}

func (p *plan) layerFree(hex string) bool {
	l, ok := p.inv.layers[hex]
	return ok && !p.gone[l.path] && p.refDiff[hex] == 0 && !p.rs.tagDiffIDs[hex] &&
		!p.rs.leased[v1.Hash{Algorithm: "sha256", Hex: hex}] && !p.young(l.mtime)
}

// candidates lists what may go, least recently used first.
func (p *plan) candidates() []pruneItem {
	var items []pruneItem
	for _, re := range p.inv.records {
		dangling := re.rec == nil || re.rec.Layer != nil &&
			!p.rs.tagBlobs[re.rec.Layer.Digest] && !p.rs.tagDiffIDs[re.rec.Layer.DiffID.Hex]
		if (p.opts.All || dangling) && p.old(re.used) {
			items = append(items, pruneItem{used: re.used, record: re})
		}
	}
	for h, b := range p.inv.blobs {
		if p.blobFree(h) && p.old(b.mtime) {
			items = append(items, pruneItem{used: b.mtime, blob: h})
		}
	}
	for hex, l := range p.inv.layers {
		if p.layerFree(hex) && p.old(l.mtime) {
			items = append(items, pruneItem{used: l.mtime, layer: hex})
		}
	}
	if p.opts.All && !p.rs.liveBuilds {
		for _, m := range p.inv.mounts {
			if p.old(m.mtime) {
				items = append(items, pruneItem{used: m.mtime, mount: m})
			}
		}
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].used.Before(items[j].used) })
	return items
}

// remover carries out a plan; nil runs it dry.
type remover interface {
	removeFile(path string) error
	removeDir(ctx context.Context, path string, diffID string) (bool, error)
	leased(ctx context.Context, h v1.Hash) (bool, error)
	lockBlobs(ctx context.Context) (func(), error)
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
			if err := p.file(rm, it.record.path, it.record.size, &rep.Records, &rep); err != nil {
				return rep, err
			}
			if r := it.record.rec; r != nil && r.Layer != nil {
				p.refBlob[r.Layer.Digest]--
				p.refDiff[r.Layer.DiffID.Hex]--
				if err := p.dropBlob(ctx, rm, r.Layer.Digest, &rep); err != nil {
					return rep, err
				}
				if err := p.dropLayer(ctx, rm, r.Layer.DiffID.Hex, &rep); err != nil {
					return rep, err
				}
			}
		case it.mount != nil:
			if err := p.dir(ctx, rm, it.mount, "", &rep.CacheMounts, &rep); err != nil {
				return rep, err
			}
			if rm != nil {
				os.Remove(it.mount.path + ".lock")
			}
		case it.layer != "":
			if err := p.dropLayer(ctx, rm, it.layer, &rep); err != nil {
				return rep, err
			}
		default:
			if err := p.dropBlob(ctx, rm, it.blob, &rep); err != nil {
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
	b := p.inv.blobs[h]
	if rm != nil {
		// A build may have hit (Get marks the blob) or leased it since the
		// scan; the blob lock keeps Get out until the blob is gone.
		unlock, err := rm.lockBlobs(ctx)
		if err != nil {
			return err
		}
		defer unlock()
		if fi, err := os.Stat(b.path); err != nil || !fi.ModTime().Equal(b.mtime) || p.young(fi.ModTime()) {
			return nil
		}
		if l, err := rm.leased(ctx, h); err != nil || l {
			return err
		}
	}
	return p.file(rm, b.path, b.size, &rep.Blobs, rep)
}

func (p *plan) dropLayer(ctx context.Context, rm remover, hex string, rep *PruneReport) error {
	if !p.layerFree(hex) {
		return nil
	}
	return p.dir(ctx, rm, p.inv.layers[hex], hex, &rep.Layers, rep)
}

func (p *plan) file(rm remover, path string, size int64, n *int, rep *PruneReport) error {
	if rm != nil {
		if err := rm.removeFile(path); err != nil {
			return err
		}
	}
	p.gone[path] = true
	p.total -= size
	*n++
	rep.Freed += size
	return nil
}

func (p *plan) dir(ctx context.Context, rm remover, e *fileEntry, diffID string, n *int, rep *PruneReport) error {
	if rm != nil {
		removed, err := rm.removeDir(ctx, e.path, diffID)
		if err != nil || !removed {
			return err
		}
	}
	p.gone[e.path] = true
	p.total -= e.size
	*n++
	rep.Freed += e.size
	return nil
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
		e.InUse = p.rs.leased[l.Digest] || p.rs.leased[l.DiffID]
		e.Shared = p.rs.tagBlobs[l.Digest] || p.refBlob[l.Digest] > 1
		if !e.Shared && !e.InUse {
			if b, ok := p.inv.blobs[l.Digest]; ok {
				e.Size += b.size
			}
			if d, ok := p.inv.layers[l.DiffID.Hex]; ok && p.refDiff[l.DiffID.Hex] <= 1 && !p.rs.tagDiffIDs[l.DiffID.Hex] {
				e.Size += d.size
			}
		}
	}
	return e
}

var _ remover = (*Cache)(nil)

func (c *Cache) leased(ctx context.Context, h v1.Hash) (bool, error) {
	inUse, err := c.store.InUse(ctx)
	if err != nil {
		return false, err
	}
	return inUse[h], nil
}

func (c *Cache) removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}

// removeDir takes a directory out of sight by renaming it first (so no
// reader sees it half removed), then deletes it. For an extracted layer
// it checks the leases again after the rename and puts back a layer that a
// build leased meanwhile; it reports whether the directory went.
func (c *Cache) removeDir(ctx context.Context, path, diffID string) (bool, error) {
	del := filepath.Join(filepath.Dir(path), ".del-"+filepath.Base(path)+"-"+strconv.Itoa(os.Getpid()))
	if err := os.Rename(path, del); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("remove %s: %w", path, err)
	}
	if diffID != "" {
		inUse, err := c.store.InUse(ctx)
		if err != nil || inUse[v1.Hash{Algorithm: "sha256", Hex: diffID}] {
			if rerr := os.Rename(del, path); rerr != nil && err == nil {
				err = fmt.Errorf("restore %s: %w", path, rerr)
			}
			return false, err
		}
	}
	if err := os.RemoveAll(del); err != nil {
		return false, fmt.Errorf("remove %s: %w", path, err)
	}
	return true, nil
}

// removeLeftovers deletes what an interrupted prune renamed away. The
// caller holds the prune lock, so no prune is using them.
func (c *Cache) removeLeftovers() {
	for _, dir := range []string{c.store.LayersDir(), c.mountsDir()} {
		ents, _ := readDir(dir)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), ".del-") {
				os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
	}
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
