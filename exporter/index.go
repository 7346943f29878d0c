package exporter

import (
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/builderdev/builder/registry"
)

// PlatformImage is one platform's image of a multi-platform build.
type PlatformImage struct {
	Platform v1.Platform
	Image    v1.Image
}

// BuildIndex assembles the image index of a multi-platform build, one
// manifest per platform in the order given. Each image gets the layer
// compression and media types opts ask for: an OCI image index of OCI
// manifests by default, a Docker manifest list of Docker manifests with
// WithOCIMediaTypes(false) (zstd layers need OCI). This is the one place an
// index is made: attestation manifests per platform belong here. Call
// release once the index is written.
func BuildIndex(ctx context.Context, imgs []PlatformImage, opts ...Option) (idx v1.ImageIndex, release func(), err error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, func() {}, fmt.Errorf("build index: %w", err)
	}
	if len(imgs) == 0 {
		return nil, func() {}, fmt.Errorf("build index: no images")
	}
	var cleanups []func()
	release = func() {
		for _, c := range cleanups {
			c()
		}
	}
	oci := o.OCIMediaTypes == nil || *o.OCIMediaTypes
	adds := make([]mutate.IndexAddendum, 0, len(imgs))
	for _, pi := range imgs {
		img, cleanup, err := convert(ctx, pi.Image, o, true)
		if err != nil {
			release()
			return nil, func() {}, fmt.Errorf("build index: %s: %w", platformString(pi.Platform), err)
		}
		cleanups = append(cleanups, cleanup)
		mt, err := img.MediaType()
		if err != nil {
			release()
			return nil, func() {}, fmt.Errorf("build index: %s: %w", platformString(pi.Platform), err)
		}
		if mt == types.OCIManifestSchema1 {
			oci = true // zstd layers: the list must be OCI too
		}
		p := pi.Platform
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{MediaType: mt, Platform: &p}})
	}
	mt := types.DockerManifestList
	if oci {
		mt = types.OCIImageIndex
	}
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, mt), adds...), release, nil
}

// IndexImages returns the images of idx with their platforms, in order;
// entries that are not images (indexes, attestations without a platform)
// are skipped.
func IndexImages(idx v1.ImageIndex) ([]PlatformImage, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	var out []PlatformImage
	for _, d := range im.Manifests {
		if !d.MediaType.IsImage() || d.Platform == nil || d.Platform.OS == "unknown" {
			continue
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("read index: %s: %w", d.Digest, err)
		}
		out = append(out, PlatformImage{Platform: *d.Platform, Image: img})
	}
	return out, nil
}

func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// WriteOCIIndex writes idx (from BuildIndex) as an OCI image layout in a
// tar, as BuildKit's type=oci does for several platforms: index.json has
// one entry, the index, named refName (see WriteOCI); the index's
// manifests and their blobs are in blobs/sha256/.
func WriteOCIIndex(ctx context.Context, w io.Writer, idx v1.ImageIndex, refName string) error {
	if err := writeIndexArchive(ctx, w, idx, refName); err != nil {
		return fmt.Errorf("write oci tar: %w", err)
	}
	return nil
}

func writeIndexArchive(ctx context.Context, w io.Writer, idx v1.ImageIndex, refName string) error {
	im, err := idx.IndexManifest()
	if err != nil {
		return fmt.Errorf("read index: %w", err)
	}
	raw, err := idx.RawManifest()
	if err != nil {
		return fmt.Errorf("read index: %w", err)
	}
	desc, err := partial.Descriptor(idx)
	if err != nil {
		return fmt.Errorf("read index: %w", err)
	}
	seen := map[v1.Hash]bool{desc.Digest: true}
	recs := []record{dirRecord("blobs/"), dirRecord("blobs/sha256/"), fileRecord(blobName(desc.Digest), 0o444, raw)}
	for _, d := range im.Manifests {
		if !d.MediaType.IsImage() {
			return fmt.Errorf("index entry %s: %s is not an image manifest", d.Digest, d.MediaType)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return fmt.Errorf("read index entry %s: %w", d.Digest, err)
		}
		if _, _, _, err := imageRecords(img, seen, &recs); err != nil {
			return err
		}
	}
	var names []string
	if refName != "" {
		names = []string{refName}
	}
	return finishArchive(ctx, w, recs, v1.Descriptor{MediaType: desc.MediaType, Size: desc.Size, Digest: desc.Digest}, nil, nil, names, false)
}

// PushIndex uploads idx (from BuildIndex) to ref: every platform's blobs
// and manifest, then the index, so a failed push never leaves the tag on
// a partial index. It returns the index digest the registry has. opts and
// errors are those of Push.
func PushIndex(ctx context.Context, idx v1.ImageIndex, ref string, opts ...registry.Option) (v1.Hash, error) {
	c := registry.New(opts...)
	r, err := c.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	want, err := idx.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("push to %s: compute digest: %w", ref, err)
	}
	if err := remote.WriteIndex(r, idx, c.WriteOptions(ctx)...); err != nil {
		return v1.Hash{}, c.Wrap(ctx, registry.OpPush, ref, err)
	}
	desc, err := remote.Head(r, c.RemoteOptions(ctx)...)
	if err != nil {
		return v1.Hash{}, c.Wrap(ctx, registry.OpPush, ref, fmt.Errorf("check pushed index: %w", err))
	}
	if desc.Digest != want {
		return v1.Hash{}, fmt.Errorf("push to %s: registry %s has manifest %s, pushed index %s",
			ref, r.Context().RegistryStr(), desc.Digest, want)
	}
	return desc.Digest, nil
}
