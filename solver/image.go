package solver

import (
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// finalImage assembles the target stage's state into an OCI image: its
// layers (all in the store) and its config with --label applied.
func (b *build) finalImage(st *state) (v1.Image, error) {
	cfg := st.cfg.DeepCopy()
	dateLeadingMetadata(cfg.History, st.baseHistory)
	// The image is as new as its newest history entry, so a rebuild served
	// wholly from the cache gives the same image.
	created := time.Time{}
	for _, h := range cfg.History {
		if h.Created.After(created) {
			created = h.Created.Time
		}
	}
	cfg.Created = v1.Time{Time: b.stamp(created)}
	for k, v := range b.req.Labels {
		if cfg.Config.Labels == nil {
			cfg.Config.Labels = map[string]string{}
		}
		cfg.Config.Labels[k] = v
	}
	if cfg.Config.Labels != nil && len(cfg.Config.Labels) == 0 {
		cfg.Config.Labels = nil
	}
	return assemble(cfg, st.layers)
}

// dateLeadingMetadata dates the metadata entries (ENV, ARG, ...) that come
// before the build's first new layer like that layer rather than like the
// base image, as BuildKit does. Without a new layer they keep the base's
// time.
func dateLeadingMetadata(h []v1.History, base int) {
	if base > len(h) {
		return
	}
	for i := base; i < len(h); i++ {
		if h[i].EmptyLayer {
			continue
		}
		for j := base; j < i; j++ {
			h[j].Created = h[i].Created
		}
		return
	}
}

// assemble builds an OCI image from a config and its layers. Layers keep
// their bytes; their descriptors get OCI media types.
func assemble(cfg *v1.ConfigFile, layers []v1.Layer) (v1.Image, error) {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	adds := make([]mutate.Addendum, 0, len(layers))
	for _, l := range layers {
		mt, err := l.MediaType()
		if err != nil {
			return nil, fmt.Errorf("layer media type: %w", err)
		}
		switch mt {
		case types.DockerLayer:
			mt = types.OCILayer
		case types.DockerUncompressedLayer:
			mt = types.OCIUncompressedLayer
		}
		adds = append(adds, mutate.Addendum{Layer: l, MediaType: mt})
	}
	img, err := mutate.Append(img, adds...)
	if err != nil {
		return nil, fmt.Errorf("append layers: %w", err)
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("set config: %w", err)
	}
	return img, nil
}
