package solver

import (
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/internal/imagesource"
)

// BaseImage is an image the build resolved (FROM, COPY --from=IMAGE): what
// provenance lists as a material.
type BaseImage struct {
	Ref      string // as the Dockerfile (or a named context) gave it
	Platform v1.Platform
	Digest   v1.Hash // manifest digest
}

// baseImages collects the resolved images, each once, in resolution order.
type baseImages struct {
	mu   sync.Mutex
	list []BaseImage
}

func (b *baseImages) add(ref string, p v1.Platform, img *imagesource.Image) {
	if img == nil || img.Digest == (v1.Hash{}) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, x := range b.list {
		if x.Ref == ref && x.Platform.Equals(p) {
			return
		}
	}
	b.list = append(b.list, BaseImage{Ref: ref, Platform: p, Digest: img.Digest})
}

func (b *baseImages) all() []BaseImage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]BaseImage(nil), b.list...)
}
