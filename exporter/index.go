package exporter

import (
	"context"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/name"
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
	// Platform is the image's index entry; a zero one takes the image
	// config's OS, architecture and variant.
	Platform v1.Platform
	Image    v1.Image
	// Attestations, if set, are the image's: BuildIndex adds their
	// attestation manifest (see AttestationManifest) to the index.
	Attestations *Attestations
}

// BuildIndex assembles the image index of a build, one manifest per
// platform in the order given. Each image gets the layer compression and
// media types opts ask for: an OCI image index of OCI manifests by
// default, a Docker manifest list of Docker manifests with
// WithOCIMediaTypes(false) (zstd layers need OCI). This is the one place
// an index is made. An image with Attestations gets an attestation
// manifest referring to its manifest as written (converted); as BuildKit
// lays them out, the attestation manifests follow all the images, in the
// images' order, and they turn OCI media types on (BuildKit's "forcibly
// turning on oci-mediatype mode for attestations"). Call release once the
// index is written.
func BuildIndex(ctx context.Context, imgs []PlatformImage, opts ...Option) (idx v1.ImageIndex, release func(), err error) {
	o, err := makeOptions(opts)
	if err != nil {
		return nil, func() {}, fmt.Errorf("build index: %w", err)
	}
	if len(imgs) == 0 {
		return nil, func() {}, fmt.Errorf("build index: no images")
	}
	for _, pi := range imgs {
		if pi.Attestations != nil {
			oci := true
			o.OCIMediaTypes = &oci
			break
		}
	}
	var cleanups []func()
	release = func() {
		for _, c := range cleanups {
			c()
		}
	}
	fail := func(p v1.Platform, err error) (v1.ImageIndex, func(), error) {
		release()
		return nil, func() {}, fmt.Errorf("build index: %s: %w", platformString(p), err)
	}
	oci := o.OCIMediaTypes == nil || *o.OCIMediaTypes
	adds := make([]mutate.IndexAddendum, 0, 2*len(imgs))
	var atts []mutate.IndexAddendum
	for _, pi := range imgs {
		p := pi.Platform
		if p.OS == "" {
			cf, err := pi.Image.ConfigFile()
			if err != nil {
				return fail(p, err)
			}
			p = v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
		}
		img, cleanup, err := convert(ctx, pi.Image, o, true)
		if err != nil {
			return fail(p, err)
		}
		cleanups = append(cleanups, cleanup)
		mt, err := img.MediaType()
		if err != nil {
			return fail(p, err)
		}
		if mt == types.OCIManifestSchema1 {
			oci = true // zstd layers: the list must be OCI too
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{MediaType: mt, Platform: &p}})
		if pi.Attestations != nil {
			a := *pi.Attestations
			a.Platform = p
			att, err := AttestationManifest(img, a)
			if err != nil {
				return fail(p, err)
			}
			atts = append(atts, att)
		}
	}
	mt := types.DockerManifestList
	if oci {
		mt = types.OCIImageIndex
	}
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, mt), append(adds, atts...)...), release, nil
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

// PushIndex uploads idx (from BuildIndex) to ref as Push does an image:
// every manifest's blobs (mounted across repositories where possible) and
// the manifests, then the index by its digest, HEADed, and only then the
// tag, HEADed, so a failed push never leaves the tag on a partial index.
// It returns the index digest the registry has. opts and errors are those
// of Push.
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
	if m := c.MountSource(r); m != nil {
		idx = &mountableIndex{index: idx, from: m}
	}
	return putThenTag(ctx, c, r, ref, want, idx, func(d name.Reference) error {
		return remote.WriteIndex(d, idx, c.WriteOptions(ctx)...)
	})
}

// mountableIndex presents the images of an index as mountableImage, so
// that remote.WriteIndex tries cross-repository mounts of their blobs.
type mountableIndex struct {
	index // an embedded v1.ImageIndex field would hide its ImageIndex method
	from  name.Reference
}

type index = v1.ImageIndex

func (m *mountableIndex) Image(h v1.Hash) (v1.Image, error) {
	img, err := m.index.Image(h)
	if err != nil {
		return nil, err
	}
	return &mountableImage{Image: img, from: m.from}, nil
}
