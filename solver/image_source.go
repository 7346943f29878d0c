package solver

import (
	"context"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/internal/imagesource"
)

// resolveImage finds ref in, in order: the named build contexts, the local
// store, the registry (internal/imagesource does the looking and imports
// the layers into the store once by digest). Concurrent steps asking for
// one image share one resolution.
func (b *build) resolveImage(ctx context.Context, ref string, p v1.Platform) (*imagesource.Image, error) {
	if strings.EqualFold(ref, "scratch") {
		return imagesource.Scratch(p), nil
	}
	v, err, _ := b.images.Do(p.String()+" "+ref, func() (any, error) {
		return b.resolveImageOnce(ctx, ref, p)
	})
	if err != nil {
		return nil, err
	}
	return v.(*imagesource.Image), nil
}

func (b *build) resolveImageOnce(ctx context.Context, ref string, p v1.Platform) (*imagesource.Image, error) {
	src := b.s.images
	if nc, ok := b.namedContext(ref); ok {
		switch nc.kind {
		case contextOCILayout:
			return src.Layout(ctx, ref, nc.target, p, b.lease)
		case contextDockerImage:
			return src.Registry(ctx, nc.target, p, b.lease)
		default:
			return nil, fmt.Errorf("build context %q is a local directory, not an image", ref)
		}
	}
	img, err := src.Store(ctx, ref, p, b.lease)
	if !errors.Is(err, imagesource.ErrNotInStore) {
		return img, err
	}
	return src.Registry(ctx, ref, p, b.lease)
}
