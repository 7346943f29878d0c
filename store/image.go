package store

import (
	"bytes"
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// storeImage is a v1.Image whose manifest, config and layers are blobs of
// the store. Its layers are *Layer values.
type storeImage struct {
	s        *Store
	digest   v1.Hash
	raw      []byte
	manifest *v1.Manifest
	rawCfg   []byte
	cfg      *v1.ConfigFile
}

var _ v1.Image = (*storeImage)(nil)

func (s *Store) readBlob(ctx context.Context, h v1.Hash) ([]byte, error) {
	rc, err := s.OpenBlob(ctx, h)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", h, err)
	}
	return b, nil
}

// imageByDigest loads the manifest and config of an image from blobs.
func (s *Store) imageByDigest(ctx context.Context, h v1.Hash) (*storeImage, error) {
	raw, err := s.readBlob(ctx, h)
	if err != nil {
		return nil, fmt.Errorf("load image: %w", err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("load image %s: %w", h, err)
	}
	if m.MediaType == "" {
		m.MediaType = types.OCIManifestSchema1
	}
	if !m.MediaType.IsImage() {
		return nil, fmt.Errorf("load image %s: not an image manifest (%s)", h, m.MediaType)
	}
	rawCfg, err := s.readBlob(ctx, m.Config.Digest)
	if err != nil {
		return nil, fmt.Errorf("load image %s: config: %w", h, err)
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(rawCfg))
	if err != nil {
		return nil, fmt.Errorf("load image %s: config: %w", h, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("load image %s: %d layers but %d diff ids", h, len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	return &storeImage{s: s, digest: h, raw: raw, manifest: m, rawCfg: rawCfg, cfg: cfg}, nil
}

func (i *storeImage) MediaType() (types.MediaType, error) { return i.manifest.MediaType, nil }
func (i *storeImage) Size() (int64, error)                { return int64(len(i.raw)), nil }
func (i *storeImage) Digest() (v1.Hash, error)            { return i.digest, nil }
func (i *storeImage) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *storeImage) RawConfigFile() ([]byte, error)      { return i.rawCfg, nil }
func (i *storeImage) ConfigName() (v1.Hash, error)        { return i.manifest.Config.Digest, nil }

func (i *storeImage) Manifest() (*v1.Manifest, error) { return i.manifest.DeepCopy(), nil }

func (i *storeImage) ConfigFile() (*v1.ConfigFile, error) { return i.cfg.DeepCopy(), nil }

func (i *storeImage) Layers() ([]v1.Layer, error) {
	out := make([]v1.Layer, 0, len(i.manifest.Layers))
	for n, d := range i.manifest.Layers {
		out = append(out, i.layer(n, d))
	}
	return out, nil
}

func (i *storeImage) layer(n int, d v1.Descriptor) v1.Layer {
	return &Layer{s: i.s, digest: d.Digest, diffID: i.cfg.RootFS.DiffIDs[n], size: d.Size, mediaType: d.MediaType}
}

func (i *storeImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	if h == i.manifest.Config.Digest {
		return partial.ConfigLayer(i)
	}
	for n, d := range i.manifest.Layers {
		if d.Digest == h {
			return i.layer(n, d), nil
		}
	}
	return nil, fmt.Errorf("layer %s: %w", h, ErrNotFound)
}

func (i *storeImage) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	for n, d := range i.cfg.RootFS.DiffIDs {
		if d == h {
			return i.layer(n, i.manifest.Layers[n]), nil
		}
	}
	return nil, fmt.Errorf("layer with diff id %s: %w", h, ErrNotFound)
}
