package cache

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/builderdev/builder/registry"
)

// ErrNoCache means there is no cache at the given reference or directory
// (a first build); callers usually just go on without it.
var ErrNoCache = errors.New("no cache found")

// ExportRegistry pushes the cache artifact of keys (see Export) to ref
// ("registry/repo:tag") and returns its manifest digest. Auth and
// transport come from opts (for example remote.WithAuthFromKeychain).
// Only blobs the registry lacks are uploaded; the tag is written after
// the manifest is in by its digest.
func ExportRegistry(ctx context.Context, c *Cache, keys []v1.Hash, ref string, opts ...remote.Option) (v1.Hash, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("export cache: %w", err)
	}
	img, err := Export(ctx, c, keys)
	if err != nil {
		return v1.Hash{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("export cache: %w", err)
	}
	opts = append(opts, remote.WithContext(ctx))
	// Blobs and the manifest by digest first; the tag is written last,
	// once all it needs is in.
	if err := remote.Write(r.Context().Digest(d.String()), img, opts...); err != nil {
		return v1.Hash{}, registry.Wrap(ctx, registry.OpExportCache, ref, err)
	}
	if tag, ok := r.(name.Tag); ok {
		if err := remote.Tag(tag, img, opts...); err != nil {
			return v1.Hash{}, registry.Wrap(ctx, registry.OpExportCache, ref, fmt.Errorf("write tag: %w", err))
		}
	}
	return d, nil
}

// ImportRegistry pulls the cache artifact at ref and imports it (see
// Import). A reference the registry does not know is ErrNoCache.
func ImportRegistry(ctx context.Context, c *Cache, ref string, opts ...remote.Option) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return fmt.Errorf("import cache: %w", err)
	}
	// A blob that arrives with the wrong digest is fetched again, through
	// a new image: go-containerregistry keeps a config it read even when
	// the read failed.
	var pulled bool
	err = registry.RetryFetch(ctx, func() error {
		img, err := remote.Image(r, append(opts, remote.WithContext(ctx))...)
		if err != nil {
			return err
		}
		pulled = true
		return Import(ctx, c, img)
	})
	switch {
	case err == nil:
		return nil
	case !pulled:
		err = registry.Wrap(ctx, registry.OpImportCache, ref, err)
		if errors.Is(err, registry.ErrNotFound) {
			return fmt.Errorf("import cache from %s: %w", ref, ErrNoCache)
		}
		return err
	}
	return fmt.Errorf("%w (from %s)", err, ref)
}
