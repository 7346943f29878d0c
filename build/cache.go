package build

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/builderdev/builder/cache"
)

// CacheSpec is one cache source (WithCacheFrom) or destination
// (WithCacheTo): a registry ref or a local OCI layout directory.
type CacheSpec struct {
	Type        string // "registry" or "local"
	Ref         string // registry reference
	Dir         string // local OCI layout directory
	Tag         string // local: the artifact's tag in the layout ("" = latest)
	Mode        string // export: "min" (the final image's steps) or "max" (every step)
	IgnoreError bool   // export: a failure is a warning
}

func (c CacheSpec) String() string {
	if c.Type == "registry" {
		return "registry " + c.Ref
	}
	return "local " + c.Dir
}

// importCaches imports every source into c before a build. As with
// BuildKit, a source that is missing or fails only costs cache hits: warn
// is told and the build goes on.
func importCaches(ctx context.Context, c *cache.Cache, from []CacheSpec, warn func(string), ropts ...remote.Option) error {
	for _, spec := range from {
		var err error
		if spec.Type == "registry" {
			err = cache.ImportRegistry(ctx, c, spec.Ref, ropts...)
		} else {
			err = cache.ImportLocal(ctx, c, spec.Dir, spec.Tag)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch {
		case errors.Is(err, cache.ErrNoCache):
			warn(fmt.Sprintf("cache import from %s: no cache there yet", spec))
		case err != nil:
			warn(fmt.Sprintf("cache import from %s failed: %v", spec, err))
		}
	}
	return nil
}

// exportCaches writes every destination after a build: the records of
// finalKeys (the final image's steps) for mode=min, of allKeys (every
// step) for mode=max. A failure fails the build unless the destination
// says IgnoreError.
func exportCaches(ctx context.Context, c *cache.Cache, to []CacheSpec, finalKeys, allKeys []v1.Hash, warn func(string), ropts ...remote.Option) error {
	for _, spec := range to {
		keys := finalKeys
		if spec.Mode == "max" {
			keys = allKeys
		}
		var err error
		if spec.Type == "registry" {
			_, err = cache.ExportRegistry(ctx, c, keys, spec.Ref, ropts...)
		} else {
			err = cache.ExportLocal(ctx, c, keys, spec.Dir, spec.Tag)
		}
		if err != nil {
			if spec.IgnoreError && ctx.Err() == nil {
				warn(fmt.Sprintf("cache export to %s failed (ignored): %v", spec, err))
				continue
			}
			return fmt.Errorf("cache export to %s: %w", spec, err)
		}
	}
	return nil
}
