package exporter

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/builderdev/builder/internal/layer"
)

// Convert returns img with the layer compression and media types opts ask
// for: the conversion WriteOCI and WriteDocker make, for Push. Media types
// default to img's own (OCI or Docker), so without options img itself is
// returned. Recompressed layers are staged in Options.TempDir or, with
// WithStore, kept in the store and reused by later conversions. Call
// release once done with the image (after Push).
func Convert(ctx context.Context, img v1.Image, opts ...Option) (converted v1.Image, release func(), err error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, func() {}, fmt.Errorf("convert image: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, func() {}, fmt.Errorf("convert image: read media type: %w", err)
	}
	out, release, err := convert(ctx, img, o, mt != types.DockerManifestSchema2)
	if err != nil {
		return nil, func() {}, fmt.Errorf("convert image: %w", err)
	}
	return out, release, nil
}

// convert returns img with the layer compression and media types asked for
// by o (defaultOCI is the output's default). The raw config is kept byte
// for byte, so the image ID does not change. If nothing changes img itself
// is returned. cleanup removes staged recompressed layers.
func convert(ctx context.Context, img v1.Image, o Options, defaultOCI bool) (v1.Image, func(), error) {
	nop := func() {}
	m, err := img.Manifest()
	if err != nil {
		return nil, nop, fmt.Errorf("read manifest: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, nop, fmt.Errorf("read layers: %w", err)
	}
	if len(layers) != len(m.Layers) {
		return nil, nop, fmt.Errorf("manifest has %d layers, image %d", len(m.Layers), len(layers))
	}
	oci := defaultOCI
	if o.OCIMediaTypes != nil {
		oci = *o.OCIMediaTypes
	}
	// Decide each layer's target compression.
	target := make([]Compression, len(layers))
	for i, d := range m.Layers {
		cur, known := layer.CompressionOf(d.MediaType)
		target[i] = cur
		if !known || !d.MediaType.IsDistributable() {
			continue
		}
		if o.Compression != "" && (o.Compression != cur || o.Force) {
			target[i] = o.Compression
		}
		if target[i] == Zstd {
			oci = true
		}
	}
	dir := o.TempDir
	if dir == "" {
		dir = os.TempDir()
	}
	staged, cleanup, err := recompressAll(ctx, dir, layers, m.Layers, target, o)
	if err != nil {
		return nil, nop, err
	}

	nm := m.DeepCopy()
	changed := false
	set := func(dst *types.MediaType, v types.MediaType) {
		if *dst != v {
			*dst, changed = v, true
		}
	}
	if oci {
		set(&nm.MediaType, types.OCIManifestSchema1)
		set(&nm.Config.MediaType, types.OCIConfigJSON)
	} else {
		set(&nm.MediaType, types.DockerManifestSchema2)
		set(&nm.Config.MediaType, types.DockerConfigJSON)
		if nm.Annotations != nil || nm.Subject != nil {
			nm.Annotations, nm.Subject, changed = nil, nil, true
		}
	}
	out := make([]v1.Layer, len(layers))
	for i, l := range layers {
		d := &nm.Layers[i]
		out[i] = l
		if staged[i] != nil {
			out[i] = staged[i]
			d.Digest, d.Size = staged[i].digest, staged[i].size
			changed = true
		}
		if _, known := layer.CompressionOf(d.MediaType); !known {
			continue
		}
		if !d.MediaType.IsDistributable() {
			// Foreign layers keep their kind; only the family changes.
			set(&d.MediaType, layer.ForeignMediaType(oci))
			out[i] = &typedLayer{Layer: out[i], mt: d.MediaType}
			continue
		}
		mt := layer.MediaType(target[i], oci)
		set(&d.MediaType, mt)
		if staged[i] != nil {
			staged[i].mt = mt
		} else {
			out[i] = &typedLayer{Layer: l, mt: mt}
		}
	}
	if !changed {
		cleanup()
		return img, nop, nil
	}
	raw, err := json.Marshal(nm)
	if err != nil {
		cleanup()
		return nil, nop, fmt.Errorf("encode manifest: %w", err)
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		cleanup()
		return nil, nop, fmt.Errorf("read config: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		cleanup()
		return nil, nop, fmt.Errorf("read config: %w", err)
	}
	return &convertedImage{raw: raw, manifest: nm, rawCfg: rawCfg, cfg: cf, layers: out}, cleanup, nil
}

// typedLayer is a layer seen under another media type.
type typedLayer struct {
	v1.Layer
	mt types.MediaType
}

func (l *typedLayer) MediaType() (types.MediaType, error) { return l.mt, nil }

// convertedImage is an image with a rewritten manifest over kept config
// bytes and (possibly recompressed) layers.
type convertedImage struct {
	raw      []byte
	manifest *v1.Manifest
	rawCfg   []byte
	cfg      *v1.ConfigFile
	layers   []v1.Layer
}

var _ v1.Image = (*convertedImage)(nil)

func (c *convertedImage) Layers() ([]v1.Layer, error)         { return c.layers, nil }
func (c *convertedImage) MediaType() (types.MediaType, error) { return c.manifest.MediaType, nil }
func (c *convertedImage) Size() (int64, error)                { return int64(len(c.raw)), nil }
func (c *convertedImage) ConfigName() (v1.Hash, error)        { return c.manifest.Config.Digest, nil }
func (c *convertedImage) ConfigFile() (*v1.ConfigFile, error) { return c.cfg.DeepCopy(), nil }
func (c *convertedImage) RawConfigFile() ([]byte, error)      { return c.rawCfg, nil }
func (c *convertedImage) Manifest() (*v1.Manifest, error)     { return c.manifest.DeepCopy(), nil }
func (c *convertedImage) RawManifest() ([]byte, error)        { return c.raw, nil }

func (c *convertedImage) Digest() (v1.Hash, error) {
	h, _, err := v1.SHA256(bytesReader(c.raw))
	return h, err
}

func (c *convertedImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	for i, d := range c.manifest.Layers {
		if d.Digest == h {
			return c.layers[i], nil
		}
	}
	return nil, fmt.Errorf("layer %s not in image", h)
}

func (c *convertedImage) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	for i, d := range c.cfg.RootFS.DiffIDs {
		if d == h && i < len(c.layers) {
			return c.layers[i], nil
		}
	}
	return nil, fmt.Errorf("layer with diff id %s not in image", h)
}
