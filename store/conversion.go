package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Conversions are cache: a record in root/conversions says that the layer
// with some diffID, compressed in some way (the key), is the blob Digest.
// The blob is an ordinary blob of oci/blobs; nothing but a tag, a cache
// record or a lease keeps it, so prune may remove it like any unreferenced
// blob. A record whose blob is gone is ignored (and removed by Conversion
// and PruneConversions).

// Conversion is one recorded layer conversion.
type Conversion struct {
	Key       string  `json:"key"` // the caller's key: source diffID, compression, level
	DiffID    v1.Hash `json:"diffID"`
	Digest    v1.Hash `json:"digest"`
	Size      int64   `json:"size"`
	MediaType string  `json:"mediaType"`
}

// ConversionsDir returns root/conversions, where conversion records live.
func (s *Store) ConversionsDir() string { return filepath.Join(s.root, "conversions") }

func (s *Store) conversionPath(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(s.ConversionsDir(), hex.EncodeToString(sum[:])+".json")
}

// Conversion returns the conversion recorded for key. When its blob is
// there it is marked used under the blob lock (as ReuseBlob does), so a
// concurrent prune keeps it; otherwise the record is dropped and the error
// wraps ErrNotFound, as when there is no record.
func (s *Store) Conversion(ctx context.Context, key string) (Conversion, error) {
	p := s.conversionPath(key)
	data, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return Conversion{}, fmt.Errorf("read conversion: %w", ErrNotFound)
	}
	if err != nil {
		return Conversion{}, fmt.Errorf("read conversion: %w", err)
	}
	var c Conversion
	if json.Unmarshal(data, &c) != nil || c.Key != key || c.Size < 0 {
		os.Remove(p) // damaged: a miss, and the next record replaces it
		return Conversion{}, fmt.Errorf("read conversion: %w", ErrNotFound)
	}
	ok, err := s.ReuseBlob(ctx, c.Digest)
	if err != nil {
		return Conversion{}, fmt.Errorf("read conversion: %w", err)
	}
	if !ok {
		os.Remove(p)
		return Conversion{}, fmt.Errorf("read conversion: blob %s: %w", c.Digest, ErrNotFound)
	}
	return c, nil
}

// RecordConversion writes (atomically, replacing any) the record for
// c.Key. The blob c.Digest should already be in the store.
func (s *Store) RecordConversion(ctx context.Context, c Conversion) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("record conversion: %w", err)
	}
	if c.Key == "" {
		return errors.New("record conversion: empty key")
	}
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("record conversion: %w", err)
	}
	if err := os.MkdirAll(s.ConversionsDir(), 0o700); err != nil {
		return fmt.Errorf("record conversion: %w", err)
	}
	if err := s.writeFileAtomic(s.conversionPath(c.Key), data); err != nil {
		return fmt.Errorf("record conversion: %w", err)
	}
	return nil
}

// PruneConversions removes the records whose blob is gone and returns how
// many it removed. Prune calls it after removing blobs.
func (s *Store) PruneConversions(ctx context.Context) (int, error) {
	n, err := pruneRecords(ctx, s.ConversionsDir(), func(name string, data []byte) bool {
		var c Conversion
		return strings.HasSuffix(name, ".json") && json.Unmarshal(data, &c) == nil && s.HasBlob(ctx, c.Digest)
	})
	if err != nil {
		return n, fmt.Errorf("prune conversions: %w", err)
	}
	return n, nil
}

// pruneRecords removes each regular file of dir whose name and content
// keep rejects (one that cannot be read is left), and returns how many it
// removed; a missing dir holds none.
func pruneRecords(ctx context.Context, dir string, keep func(name string, data []byte) bool) (int, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		data, err := os.ReadFile(p)
		if err != nil || keep(e.Name(), data) {
			continue
		}
		if os.Remove(p) == nil {
			n++
		}
	}
	return n, nil
}
