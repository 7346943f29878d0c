package cache

import (
	"context"
	"errors"
	"fmt"
	"os"

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
	before, _, err := cacheBlobs(p)
	if err != nil {
		return fmt.Errorf("export cache to %s: %w", dir, err)
	}
	err = p.ReplaceImage(img, match.Annotation(refNameAnnotation, tag), layout.WithAnnotations(map[string]string{refNameAnnotation: tag}))
	if err != nil {
		return fmt.Errorf("export cache to %s: %w", dir, err)
	}
	if err := gcLocal(p, before); err != nil {
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
	p, err := layout.FromPath(dir)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("import cache from %s: %w", dir, ErrNoCache)
	}
	if err != nil {
		return fmt.Errorf("import cache from %s: %w", dir, err)
	}
	idx, err := p.ImageIndex()
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

// gcLocal removes the blobs of the layout that no artifact references
// any more: those before referenced and the artifacts now in index.json do
// not, and any other blob the layout holds (an export that died before
// updating index.json leaves some). It does so only if every manifest of
// index.json is a builder cache artifact (the directory may be shared with
// other content otherwise).
func gcLocal(p layout.Path, before map[v1.Hash]bool) error {
	keep, ok, err := cacheBlobs(p)
	if err != nil || !ok {
		return err
	}
	drop := map[v1.Hash]bool{}
	for h := range before {
		drop[h] = true
	}
	// GarbageCollect only lists the unreferenced blobs. It fails on a name
	// that is not a digest (a writer's temp file): then only the blobs of
	// before go.
	if unref, err := p.GarbageCollect(); err == nil {
		for _, h := range unref {
			drop[h] = true
		}
	}
	for h := range drop {
		if keep[h] {
			continue
		}
		if err := p.RemoveBlob(h); err != nil {
			return err
		}
	}
	return nil
}

// cacheBlobs returns the blobs the artifacts of the layout use; ok is
// false if some manifest of index.json is not a builder cache artifact.
func cacheBlobs(p layout.Path) (blobs map[v1.Hash]bool, ok bool, err error) {
	idx, err := p.ImageIndex()
	if err != nil {
		return nil, false, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, false, err
	}
	blobs = map[v1.Hash]bool{}
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, false, nil // not an image manifest: leave the directory alone
		}
		m, err := img.Manifest()
		if err != nil || m.Config.MediaType != ConfigMediaType {
			return nil, false, nil
		}
		blobs[d.Digest] = true
		blobs[m.Config.Digest] = true
		for _, l := range m.Layers {
			blobs[l.Digest] = true
		}
	}
	return blobs, true, nil
}
