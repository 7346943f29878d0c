package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/store"
)

// ErrNotFound means there is no usable record for a key.
var ErrNotFound = errors.New("cache record not found")

// recordVersion is bumped when the record format changes; older records
// are then misses, never misread.
const recordVersion = 1

// LayerRef names a layer blob in the store.
type LayerRef struct {
	Digest    v1.Hash `json:"digest"`
	DiffID    v1.Hash `json:"diffID"`
	Size      int64   `json:"size"`
	MediaType string  `json:"mediaType"`
}

// Record is what one step with a given key produced.
type Record struct {
	Version int     `json:"version"`
	Key     v1.Hash `json:"key"`
	// Parent is the key of the step before (for --explain), "" if none.
	Parent string `json:"parent,omitempty"`
	// Description is the instruction as progress shows it ("RUN make").
	Description string `json:"description,omitempty"`
	// Layer is nil for a step that changed no file.
	Layer *LayerRef `json:"layer,omitempty"`
	// Config is the image config after the step, when the caller keeps it.
	Config  json.RawMessage `json:"config,omitempty"`
	History v1.History      `json:"history"`
	// Inputs name what the key was made of (a file's digest, an arg), so a
	// miss can say what changed.
	Inputs  map[string]string `json:"inputs,omitempty"`
	Created time.Time         `json:"created"`
}

// Cache is the record store of one builder root.
type Cache struct {
	dir   string
	store *store.Store
}

// Open returns the cache kept in dir, whose blobs live in st.
func Open(dir string, st *store.Store) (*Cache, error) {
	for _, d := range []string{filepath.Join(dir, "records"), filepath.Join(dir, "last")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("open cache: %w", err)
		}
	}
	return &Cache{dir: dir, store: st}, nil
}

func (c *Cache) recordPath(key v1.Hash) string {
	return filepath.Join(c.dir, "records", key.Hex+".json")
}

// lastPath indexes the newest record of a (parent, description) pair.
func (c *Cache) lastPath(parent, description string) string {
	sum := sha256.Sum256([]byte(parent + "\x00" + description))
	return filepath.Join(c.dir, "last", hex.EncodeToString(sum[:]))
}

// Get returns the record of key. A record whose layer blob is missing from
// the store is ErrNotFound. A hit marks the record used (for pruning).
func (c *Cache) Get(ctx context.Context, key v1.Hash) (*Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rec, err := c.read(c.recordPath(key))
	if err != nil {
		return nil, err
	}
	if rec.Key != key || rec.Version != recordVersion {
		return nil, ErrNotFound
	}
	// Mark the last use for LRU pruning, and the blob and extracted layer as
	// fresh so that a concurrent Prune spares them until the caller has
	// taken its lease on them (see store.BlobLock).
	now := time.Now()
	_ = os.Chtimes(c.recordPath(key), now, now)
	if rec.Layer == nil {
		return rec, nil
	}
	if ok, err := c.store.ReuseBlob(ctx, rec.Layer.Digest); err != nil || !ok {
		return nil, ErrNotFound
	}
	_ = c.store.TouchLayer(ctx, rec.Layer.DiffID) // a bad diffID only loses the mark
	return rec, nil
}

func (c *Cache) read(p string) (*Record, error) {
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read cache record: %w", err)
	}
	var rec Record
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, ErrNotFound // a damaged record is a miss
	}
	return &rec, nil
}

// Put records rec atomically. Concurrent Puts of one key are fine: each
// record is complete and the last rename wins.
func (c *Cache) Put(ctx context.Context, rec *Record) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := *rec
	r.Version = recordVersion
	if r.Created.IsZero() {
		r.Created = time.Now()
	}
	data, err := json.Marshal(&r)
	if err != nil {
		return fmt.Errorf("encode cache record: %w", err)
	}
	if err := c.writeAtomic(ctx, c.recordPath(r.Key), data); err != nil {
		return err
	}
	if r.Description != "" {
		return c.writeAtomic(ctx, c.lastPath(r.Parent, r.Description), []byte(r.Key.String()))
	}
	return nil
}

// Previous returns the newest record made for the same instruction on the
// same parent, so the caller can tell which input changed.
func (c *Cache) Previous(ctx context.Context, parent v1.Hash, description string) (*Record, error) {
	data, err := os.ReadFile(c.lastPath(parent.String(), description))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read cache index: %w", err)
	}
	key, err := v1.NewHash(string(data))
	if err != nil {
		return nil, ErrNotFound
	}
	return c.read(c.recordPath(key))
}

func (c *Cache) writeAtomic(ctx context.Context, path string, data []byte) error {
	f, err := c.store.CreateTemp(ctx, "cache-*")
	if err != nil {
		return fmt.Errorf("write cache record: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write cache record: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write cache record: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write cache record: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write cache record: %w", err)
	}
	return nil
}
