package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/store"
)

// Usage is the disk space of one builder root, in bytes of file content
// (apparent sizes of regular files and symlinks, a hard-linked file once).
type Usage struct {
	Records     int64 // cache records and their index
	Blobs       int64 // the store's blobs
	Layers      int64 // extracted layers
	CacheMounts int64 // RUN --mount=type=cache directories
	Tmp         int64 // work in progress (the store's tmp)
	// Reclaimable is what Prune with All would free now: what no tagged
	// image and no running build uses.
	Reclaimable int64
	// ReclaimableDangling is what Prune without All would free now (what
	// `builder prune` removes): 0 right after such a prune.
	ReclaimableDangling int64
	// Entries lists the cache records, least recently used first.
	Entries []UsageEntry
}

// Total is the sum of every part.
func (u Usage) Total() int64 {
	return u.Records + u.Blobs + u.Layers + u.CacheMounts + u.Tmp
}

// UsageEntry is one cache record as `builder du --verbose` shows it.
type UsageEntry struct {
	Key         v1.Hash
	Description string
	// Size is the record plus the layer blob and extracted layer only it
	// references (what removing it alone would free).
	Size     int64
	LastUsed time.Time
	// Shared: a tagged image or another record also uses its layer.
	Shared bool
	// InUse: a running build holds its layer.
	InUse bool
}

// recordEntry is one file of the cache's records directory.
type recordEntry struct {
	key  v1.Hash
	path string
	size int64
	used time.Time
	rec  *Record // nil if the record is damaged or of another version
}

// inventory is what a root holds, as one scan saw it.
type inventory struct {
	records     []*recordEntry
	recordsSize int64 // records plus the last/ index
	lastFiles   []string
	st          *store.Usage // blobs, extracted layers, cache mounts, tmp
}

// scan walks the cache records and asks the store for the rest. Entries
// that vanish while it runs (other processes work on the same root) are
// skipped.
func (c *Cache) scan(ctx context.Context) (*inventory, error) {
	inv := &inventory{}
	if err := c.scanRecordFiles(ctx, inv); err != nil {
		return nil, err
	}
	u, err := c.store.Usage(ctx)
	if err != nil {
		return nil, err
	}
	inv.st = u
	return inv, nil
}

func (c *Cache) scanRecordFiles(ctx context.Context, inv *inventory) error {
	dir := filepath.Join(c.dir, "records")
	ents, err := readDir(dir)
	if err != nil {
		return fmt.Errorf("scan cache records: %w", err)
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("scan cache records: %w", err)
		}
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		p := filepath.Join(dir, e.Name())
		re := &recordEntry{path: p, size: fi.Size(), used: fi.ModTime()}
		inv.recordsSize += fi.Size()
		if h, err := v1.NewHash("sha256:" + name); err == nil {
			re.key = h
		}
		if data, err := os.ReadFile(p); err == nil {
			var rec Record
			if json.Unmarshal(data, &rec) == nil && rec.Version == recordVersion && rec.Key == re.key {
				re.rec = &rec
			}
		}
		inv.records = append(inv.records, re)
	}
	sort.Slice(inv.records, func(i, j int) bool { return inv.records[i].used.Before(inv.records[j].used) })
	lastDir := filepath.Join(c.dir, "last")
	ents, err = readDir(lastDir)
	if err != nil {
		return fmt.Errorf("scan cache index: %w", err)
	}
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			inv.recordsSize += fi.Size()
			inv.lastFiles = append(inv.lastFiles, filepath.Join(lastDir, e.Name()))
		}
	}
	return nil
}

// DiskUsage reports how much space the root's parts take and how much a
// full prune would free.
func (c *Cache) DiskUsage(ctx context.Context) (Usage, error) {
	inv, err := c.scan(ctx)
	if err != nil {
		return Usage{}, err
	}
	rs, err := c.pruneRoots(ctx)
	if err != nil {
		return Usage{}, err
	}
	u := Usage{Records: inv.recordsSize, Blobs: inv.st.BlobsSize(), Layers: inv.st.LayersSize,
		CacheMounts: inv.st.CacheMountsSize, Tmp: inv.st.Tmp}
	p := newPlan(inv, rs, PruneOptions{All: true}, time.Now())
	for _, re := range inv.records {
		u.Entries = append(u.Entries, p.entry(re))
	}
	if u.Reclaimable, err = c.reclaimable(ctx, p, inv); err != nil {
		return Usage{}, err
	}
	// The same dry run as Prune without All, so du and prune agree.
	dp := newPlan(inv, rs, PruneOptions{}, time.Now())
	if u.ReclaimableDangling, err = c.reclaimable(ctx, dp, inv); err != nil {
		return Usage{}, err
	}
	return u, nil
}

// reclaimable runs p dry and returns the bytes it would free.
func (c *Cache) reclaimable(ctx context.Context, p *plan, inv *inventory) (int64, error) {
	freed, err := p.run(ctx, nil)
	if err != nil {
		return 0, err
	}
	return freed.Freed + c.cleanIndex(inv, p.goneRecords, true), nil
}

// readDir lists dir; a missing dir is empty.
func readDir(dir string) ([]fs.DirEntry, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return ents, err
}
