package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"

	"github.com/builderdev/builder/internal/platform"
)

// TagIndex stores a multi-platform image index (each image's blobs, then
// the index blob) and points the tag name at the index in index.json,
// replacing any previous image of that name.
func (s *Store) TagIndex(ctx context.Context, name string, idx v1.ImageIndex) error {
	ref, err := NormalizeName(name)
	if err != nil {
		return fmt.Errorf("tag index: %w", err)
	}
	desc, err := s.WriteIndex(ctx, idx)
	if err != nil {
		return fmt.Errorf("tag index %s: %w", ref, err)
	}
	desc.Annotations = map[string]string{RefNameAnnotation: ref}
	err = s.updateIndex(ctx, func(top *index) error {
		kept := top.Manifests[:0]
		for _, d := range top.Manifests {
			if d.Annotations[RefNameAnnotation] != ref {
				kept = append(kept, d)
			}
		}
		top.Manifests = append(kept, *desc)
		return nil
	})
	if err != nil {
		return fmt.Errorf("tag index %s: %w", ref, err)
	}
	return nil
}

// WriteIndex stores every image of idx and the index itself without
// tagging it, and returns the index's descriptor.
func (s *Store) WriteIndex(ctx context.Context, idx v1.ImageIndex) (*v1.Descriptor, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("write index: %w", err)
	}
	for _, d := range im.Manifests {
		if !d.MediaType.IsImage() {
			return nil, fmt.Errorf("write index: entry %s is %s, not an image", d.Digest, d.MediaType)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("write index: %w", err)
		}
		if _, err := s.WriteImage(ctx, img); err != nil {
			return nil, fmt.Errorf("write index: %w", err)
		}
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("write index: %w", err)
	}
	desc, err := partial.Descriptor(idx)
	if err != nil {
		return nil, fmt.Errorf("write index: %w", err)
	}
	digest, size, err := s.WriteBlob(ctx, string(desc.MediaType), bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("write index: %w", err)
	}
	return &v1.Descriptor{MediaType: desc.MediaType, Digest: digest, Size: size}, nil
}

// ImagePlatform returns the image tagged name (or with manifest digest
// name) for platform p: a tag that names an index gives p's image of it (an
// error lists the platforms it has); a tag that names an image gives it.
func (s *Store) ImagePlatform(ctx context.Context, name string, p v1.Platform) (v1.Image, error) {
	d, err := s.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	if !d.MediaType.IsIndex() {
		return s.imageByDigest(ctx, d.Digest)
	}
	im, err := s.readIndexBlob(ctx, d.Digest)
	if err != nil {
		return nil, err
	}
	child, err := platform.Select(im, p)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", name, err)
	}
	return s.imageByDigest(ctx, child.Digest)
}

func (s *Store) readIndexBlob(ctx context.Context, h v1.Hash) (*v1.IndexManifest, error) {
	raw, err := s.readBlob(ctx, h)
	if err != nil {
		return nil, fmt.Errorf("load index: %w", err)
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("load index %s: %w", h, err)
	}
	return im, nil
}

// indexInfo fills info (size, created, platforms) from the images of the
// index h.
func (s *Store) indexInfo(ctx context.Context, h v1.Hash, info *ImageInfo) error {
	im, err := s.readIndexBlob(ctx, h)
	if err != nil {
		return err
	}
	for _, d := range im.Manifests {
		if !d.MediaType.IsImage() {
			continue
		}
		img, err := s.imageByDigest(ctx, d.Digest)
		if err != nil {
			return err
		}
		info.Size += d.Size + img.manifest.Config.Size
		for _, l := range img.manifest.Layers {
			info.Size += l.Size
		}
		if c := img.cfg.Created.Time; c.After(info.Created) {
			info.Created = c
		}
		if d.Platform != nil && d.Platform.OS != "unknown" {
			info.Platforms = append(info.Platforms, platform.String(*d.Platform))
		}
	}
	return nil
}

// ErrNotIndex is returned by IndexManifest for a tag of a single image.
var ErrNotIndex = errors.New("not a multi-platform index")

// IndexManifest returns the index a tag names (see TagIndex); its images
// are found with Image(ctx, digest). A tag of one image is ErrNotIndex.
func (s *Store) IndexManifest(ctx context.Context, name string) (*v1.IndexManifest, error) {
	d, err := s.lookup(ctx, name)
	if err != nil {
		return nil, err
	}
	if !d.MediaType.IsIndex() {
		return nil, fmt.Errorf("image %s: %w", name, ErrNotIndex)
	}
	return s.readIndexBlob(ctx, d.Digest)
}
