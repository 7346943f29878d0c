package cache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The shared cache is an OCI artifact: an image manifest whose config blob
// (ConfigMediaType) maps cache keys to records and whose layers are exactly
// the layer blobs those records reference, so any registry stores it as
// an ordinary image and any OCI layout holds it.
const (
	// ArtifactType is the manifest's artifactType.
	ArtifactType = "application/vnd.builder.cache.v1"
	// ConfigMediaType is the media type of the config blob.
	ConfigMediaType types.MediaType = "application/vnd.builder.cache.config.v1+json"
)

// ErrNotCache means an image is not a builder cache artifact.
var ErrNotCache = errors.New("not a builder cache artifact")

// artifactConfig is the config blob of the artifact.
type artifactConfig struct {
	Version int                `json:"version"`
	Records map[string]*Record `json:"records"` // by key ("sha256:…")
}

// Export builds the cache artifact holding the records of keys (keys
// without a usable record are skipped). The solver passes the keys of the
// final image's steps for mode=min and of every step for mode=max. Its
// layers are backed by the store's blobs.
func Export(ctx context.Context, c *Cache, keys []v1.Hash) (v1.Image, error) {
	cfg := artifactConfig{Version: recordVersion, Records: map[string]*Record{}}
	a := &artifact{layers: map[v1.Hash]v1.Layer{}}
	var descs []v1.Descriptor
	for _, k := range keys {
		if _, ok := cfg.Records[k.String()]; ok {
			continue
		}
		rec, err := c.Get(ctx, k)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("export cache: %w", err)
		}
		if l := rec.Layer; l != nil {
			if _, ok := a.layers[l.Digest]; !ok {
				mt := types.MediaType(l.MediaType)
				if mt == "" {
					mt = types.OCILayer
				}
				sl, err := c.store.Layer(ctx, l.Digest, l.DiffID, l.Size, mt)
				if err != nil {
					return nil, fmt.Errorf("export cache: %w", err)
				}
				a.layers[l.Digest] = sl
				descs = append(descs, v1.Descriptor{MediaType: mt, Size: l.Size, Digest: l.Digest})
			}
		}
		cfg.Records[k.String()] = rec
	}
	raw, err := json.Marshal(&cfg)
	if err != nil {
		return nil, fmt.Errorf("export cache: %w", err)
	}
	a.config = raw
	cfgDigest, cfgSize, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("export cache: %w", err)
	}
	if descs == nil {
		descs = []v1.Descriptor{}
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  ArtifactType,
		Config:        v1.Descriptor{MediaType: ConfigMediaType, Size: cfgSize, Digest: cfgDigest},
		Layers:        descs,
	}
	if a.manifest, err = json.Marshal(&m); err != nil {
		return nil, fmt.Errorf("export cache: %w", err)
	}
	a.configDigest = cfgDigest
	return partial.CompressedToImage(a)
}

// artifact is the cache artifact as a partial.CompressedImageCore.
type artifact struct {
	config       []byte
	configDigest v1.Hash
	manifest     []byte
	layers       map[v1.Hash]v1.Layer
}

var _ partial.CompressedImageCore = (*artifact)(nil)

func (a *artifact) RawConfigFile() ([]byte, error)      { return a.config, nil }
func (a *artifact) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }
func (a *artifact) RawManifest() ([]byte, error)        { return a.manifest, nil }

func (a *artifact) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if l, ok := a.layers[h]; ok {
		return l, nil
	}
	if h == a.configDigest {
		return configBlob{a}, nil
	}
	return nil, fmt.Errorf("cache artifact: no blob %s", h)
}

// configBlob serves the config as a blob (for registries).
type configBlob struct{ a *artifact }

func (c configBlob) Digest() (v1.Hash, error) { return c.a.configDigest, nil }
func (c configBlob) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(c.a.config)), nil
}
func (c configBlob) Size() (int64, error)                { return int64(len(c.a.config)), nil }
func (c configBlob) MediaType() (types.MediaType, error) { return ConfigMediaType, nil }
