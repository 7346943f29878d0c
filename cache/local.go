package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
)

// refNameAnnotation names the artifact in a local cache directory's
// index.json.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// ExportLocal writes the cache artifact of keys (see Export) into the OCI
// layout dir (created if needed) under tag ("" is "latest"), replacing the
// previous artifact of that tag. When dir holds nothing but builder cache
// artifacts, blobs none of them references any more are removed.
func ExportLocal(ctx context.Context, c *Cache, keys []v1.Hash, dir, tag string) error {
	if tag == "" {
		tag = "latest"
	}
	img, err := Export(ctx, c, keys)
	if err != nil {
		return err
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("export cache to %s: %w", dir, err)
		}
		if p, err = layout.Write(dir, empty.Index); err != nil {
			return fmt.Errorf("export cache to %s: %w", dir, err)
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("export cache to %s: %w", dir, err)
	}
	err = p.ReplaceImage(img, match.Annotation(refNameAnnotation, tag), layout.WithAnnotations(map[string]string{refNameAnnotation: tag}))
	if err != nil {
		return fmt.Errorf("export cache to %s: %w", dir, err)
	}
	if err := gcLocal(p); err != nil {
		return fmt.Errorf("export cache to %s: %w", dir, err)
	}
	return nil
}

// ImportLocal imports the cache artifact tagged tag ("" is "latest") from
// the OCI layout dir (see Import). A missing dir or tag is ErrNoCache.
func ImportLocal(ctx context.Context, c *Cache, dir, tag string) error {
	if tag == "" {
		tag = "latest"
	}
	if _, err := os.Stat(filepath.Join(dir, "index.json")); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("import cache from %s: %w", dir, ErrNoCache)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return fmt.Errorf("import cache from %s: %w", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("import cache from %s: %w", dir, err)
	}
	for i := len(im.Manifests) - 1; i >= 0; i-- {
		d := im.Manifests[i]
		if d.Annotations[refNameAnnotation] != tag {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return fmt.Errorf("import cache from %s: %w", dir, err)
		}
		if err := Import(ctx, c, img); err != nil {
			return fmt.Errorf("%w (from %s)", err, dir)
		}
		return nil
	}
	return fmt.Errorf("import cache from %s (tag %s): %w", dir, tag, ErrNoCache)
}

// gcLocal removes blobs of the layout that no artifact references, but
// only if every manifest of index.json is a builder cache artifact (the
// directory may be shared with other content otherwise).
func gcLocal(p layout.Path) error {
	idx, err := p.ImageIndex()
	if err != nil {
		return err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	keep := map[v1.Hash]bool{}
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil // not an image manifest: leave the directory alone
		}
		m, err := img.Manifest()
		if err != nil || m.Config.MediaType != ConfigMediaType {
			return nil
		}
		keep[d.Digest] = true
		keep[m.Config.Digest] = true
		for _, l := range m.Layers {
			keep[l.Digest] = true
		}
	}
	blobDir := filepath.Join(string(p), "blobs", "sha256")
	ents, err := os.ReadDir(blobDir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		h := v1.Hash{Algorithm: "sha256", Hex: e.Name()}
		if !keep[h] && isHex64(e.Name()) && e.Type().IsRegular() {
			if err := os.Remove(filepath.Join(blobDir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}
