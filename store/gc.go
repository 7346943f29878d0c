package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/internal/procowner"
)

// Garbage collection: the store knows what its parts are and removes them
// safely; the caller (cache.Prune) decides what to remove. Directories are
// removed by renaming them to ".del-…" first, so no reader sees one half
// removed; LockGC deletes what an interrupted removal left.

const delPrefix = ".del-"

// Tagged is what the images of index.json use; a prune must keep it.
type Tagged struct {
	// Blobs are the manifests, indexes, configs and layers reachable from
	// index.json.
	Blobs map[v1.Hash]bool
	// DiffIDs are the diffIDs of the tagged images' layers.
	DiffIDs map[v1.Hash]bool
}

// TaggedBlobs reads index.json and marks every manifest or index it lists
// and everything those reference. Blobs that are missing (an index's other
// platforms) are skipped.
func (s *Store) TaggedBlobs(ctx context.Context) (*Tagged, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read store index: %w", err)
	}
	idx, err := s.readIndex()
	if err != nil {
		return nil, fmt.Errorf("read store index: %w", err)
	}
	t := &Tagged{Blobs: map[v1.Hash]bool{}, DiffIDs: map[v1.Hash]bool{}}
	for _, d := range idx.Manifests {
		if err := s.markTagged(ctx, t, d, 0); err != nil {
			return nil, fmt.Errorf("mark tagged blobs: %w", err)
		}
	}
	return t, nil
}

// markTagged marks a manifest or index and everything it references.
func (s *Store) markTagged(ctx context.Context, t *Tagged, d v1.Descriptor, depth int) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if depth > 8 || t.Blobs[d.Digest] {
		return nil
	}
	t.Blobs[d.Digest] = true
	raw, err := os.ReadFile(s.BlobPath(d.Digest))
	if err != nil {
		return nil
	}
	var probe struct {
		Manifests []v1.Descriptor `json:"manifests"`
		Config    *v1.Descriptor  `json:"config"`
		Layers    []v1.Descriptor `json:"layers"`
	}
	if json.Unmarshal(raw, &probe) != nil {
		return nil
	}
	for _, m := range probe.Manifests {
		if err := s.markTagged(ctx, t, m, depth+1); err != nil {
			return err
		}
	}
	for _, l := range probe.Layers {
		t.Blobs[l.Digest] = true
	}
	if probe.Config == nil {
		return nil
	}
	t.Blobs[probe.Config.Digest] = true
	cfgRaw, err := os.ReadFile(s.BlobPath(probe.Config.Digest))
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
			t.DiffIDs[h] = true
		}
	}
	return nil
}

// LockGC takes the store's GC lock, which one prune at a time holds, and
// deletes what an interrupted removal renamed away. Call unlock to release.
func (s *Store) LockGC(ctx context.Context) (unlock func(), err error) {
	unlock, err = s.Lock(ctx, "prune")
	if err != nil {
		return nil, err
	}
	for _, dir := range []string{s.LayersDir(), s.CacheMountsDir()} {
		ents, _ := readDir(dir)
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), delPrefix) {
				os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
	}
	return unlock, nil
}

// RemoveBlob removes blob h unless it was used after lastUsed (the ModTime
// the caller's Usage saw) or a live lease holds it, and reports whether it
// went. It holds the blob lock exclusively meanwhile, so a concurrent
// ReuseBlob either finds the blob gone (and writes it again) or keeps it.
func (s *Store) RemoveBlob(ctx context.Context, h v1.Hash, lastUsed time.Time) (bool, error) {
	if h.Algorithm != "sha256" || !isHex64(h.Hex) {
		return false, fmt.Errorf("remove blob %s: invalid digest", h)
	}
	unlock, err := s.BlobLock(ctx, true)
	if err != nil {
		return false, fmt.Errorf("remove blob %s: %w", h, err)
	}
	defer unlock()
	if fi, err := os.Stat(s.BlobPath(h)); err != nil || !fi.ModTime().Equal(lastUsed) {
		return false, nil
	}
	inUse, err := s.InUse(ctx)
	if err != nil {
		return false, fmt.Errorf("remove blob %s: %w", h, err)
	}
	if inUse[h] {
		return false, nil
	}
	if err := os.Remove(s.BlobPath(h)); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("remove blob %s: %w", h, err)
	}
	return true, nil
}

// LayerDir returns the directory of the extracted layer with diffID
// (root/layers/<hex>).
func (s *Store) LayerDir(diffID v1.Hash) string {
	return filepath.Join(s.LayersDir(), diffID.Hex)
}

func validDiffID(diffID v1.Hash) error {
	if diffID.Algorithm != "sha256" || !isHex64(diffID.Hex) {
		return fmt.Errorf("invalid diffID %s", diffID)
	}
	return nil
}

// TouchLayer marks the extracted layer diffID used now, so that a prune
// sees it as recently used; a layer that is not extracted is left alone.
func (s *Store) TouchLayer(ctx context.Context, diffID v1.Hash) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("touch layer: %w", err)
	}
	if err := validDiffID(diffID); err != nil {
		return fmt.Errorf("touch layer: %w", err)
	}
	now := time.Now()
	if err := os.Chtimes(s.LayerDir(diffID), now, now); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("touch layer: %w", err)
	}
	return nil
}

// RemoveLayer removes the extracted layer diffID unless a live lease holds
// it, and reports whether it went. The directory is renamed out of sight
// first and put back if a build leased it meanwhile.
func (s *Store) RemoveLayer(ctx context.Context, diffID v1.Hash) (bool, error) {
	if err := validDiffID(diffID); err != nil {
		return false, fmt.Errorf("remove layer: %w", err)
	}
	path := s.LayerDir(diffID)
	del, ok, err := hide(path)
	if err != nil || !ok {
		return false, err
	}
	inUse, err := s.InUse(ctx)
	if err != nil || inUse[diffID] {
		if rerr := os.Rename(del, path); rerr != nil && err == nil {
			err = fmt.Errorf("restore %s: %w", path, rerr)
		}
		return false, err
	}
	if err := os.RemoveAll(del); err != nil {
		return false, fmt.Errorf("remove %s: %w", path, err)
	}
	return true, nil
}

// CacheMountsDir returns root/cache-mounts, where RUN --mount=type=cache
// directories persist between builds (one directory per name, with a
// "<name>.lock" file beside it).
func (s *Store) CacheMountsDir() string { return filepath.Join(s.root, "cache-mounts") }

// RemoveCacheMount removes the cache mount directory name and its lock
// file, and reports whether the directory went. The caller makes sure no
// build uses it (see ActiveLeases).
func (s *Store) RemoveCacheMount(ctx context.Context, name string) (bool, error) {
	if name == "" || strings.HasPrefix(name, ".") || strings.ContainsRune(name, '/') {
		return false, fmt.Errorf("remove cache mount %q: invalid name", name)
	}
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("remove cache mount %s: %w", name, err)
	}
	path := filepath.Join(s.CacheMountsDir(), name)
	del, ok, err := hide(path)
	if err != nil {
		return false, err
	}
	if ok {
		if err := os.RemoveAll(del); err != nil {
			return false, fmt.Errorf("remove %s: %w", path, err)
		}
	}
	if err := os.Remove(path + ".lock"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return ok, fmt.Errorf("remove %s.lock: %w", path, err)
	}
	return ok, nil
}

// hide renames path to a ".del-" name beside it; ok is false when path is
// not there.
func hide(path string) (del string, ok bool, err error) {
	del = filepath.Join(filepath.Dir(path), delPrefix+filepath.Base(path)+"-"+strconv.Itoa(os.Getpid()))
	if err := os.Rename(path, del); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("remove %s: %w", path, err)
	}
	return del, true, nil
}

// Leases is what the live leases of every process sharing the root hold.
type Leases struct {
	// InUse are the digests and diffIDs the leases record.
	InUse map[v1.Hash]bool
	// Live: some process holds a lease. Blobs and extracted layers written
	// at or after Since may be a running build's before it leases them.
	Live  bool
	Since time.Time
}

// ActiveLeases reads the live leases (removing those of dead owners, as
// InUse does) and the earliest start of their owners, less a margin. An
// owner whose start cannot be read makes Since the epoch: then everything
// may be a running build's.
func (s *Store) ActiveLeases(ctx context.Context) (*Leases, error) {
	inUse, err := s.InUse(ctx)
	if err != nil {
		return nil, err
	}
	l := &Leases{InUse: inUse}
	ents, _ := readDir(s.locksDir())
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), leasePrefix)
		if !ok {
			continue
		}
		l.Live = true
		_, ticks, ok := procowner.Parse(rest)
		var start time.Time
		if ok && ticks != 0 {
			start, ok = procowner.Started(ticks)
		}
		if !ok || ticks == 0 {
			l.Since = time.Unix(0, 0)
			return l, nil
		}
		start = start.Add(-5 * time.Second)
		if l.Since.IsZero() || start.Before(l.Since) {
			l.Since = start
		}
	}
	return l, nil
}
