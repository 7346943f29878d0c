package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Layer indexes (snapshot.Index, encoded) are kept per layer blob in
// root/layer-indexes/<digest hex>: a step that only looks names up in a
// layer that is not extracted reads its index instead of the layer's tar.
// The store keeps them as opaque bytes; one goes when its blob goes.

func (s *Store) layerIndexPath(digest v1.Hash) (string, error) {
	if err := validDiffID(digest); err != nil {
		return "", err
	}
	return filepath.Join(s.root, "layer-indexes", digest.Hex), nil
}

// LayerIndex returns the index recorded for the layer blob digest.
func (s *Store) LayerIndex(digest v1.Hash) ([]byte, bool) {
	p, err := s.layerIndexPath(digest)
	if err != nil {
		return nil, false
	}
	data, err := os.ReadFile(p)
	return data, err == nil
}

// RecordLayerIndex records data as the index of the layer blob digest.
func (s *Store) RecordLayerIndex(digest v1.Hash, data []byte) error {
	p, err := s.layerIndexPath(digest)
	if err != nil {
		return fmt.Errorf("record layer index: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("record layer index: %w", err)
	}
	if err := s.writeFileAtomic(p, data); err != nil {
		return fmt.Errorf("record layer index: %w", err)
	}
	return nil
}

// PruneLayerIndexes removes the indexes whose blob is gone and returns how
// many it removed. Prune calls it after removing blobs.
func (s *Store) PruneLayerIndexes(ctx context.Context) (int, error) {
	n, err := pruneRecords(ctx, filepath.Join(s.root, "layer-indexes"), func(name string, _ []byte) bool {
		h := v1.Hash{Algorithm: "sha256", Hex: name}
		return validDiffID(h) == nil && s.HasBlob(ctx, h)
	})
	if err != nil {
		return n, fmt.Errorf("prune layer indexes: %w", err)
	}
	return n, nil
}
