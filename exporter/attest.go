package exporter

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/builderdev/builder/internal/attest"
	"github.com/builderdev/builder/registry"
)

// Attestations are the in-toto predicates of one platform's image.
type Attestations struct {
	Predicates []attest.Predicate
	// Platform is the image's platform, named in each subject.
	Platform v1.Platform
	// Names are the image's names; each statement has one subject per
	// name, pkg:docker/NAME?platform=OS%2FARCH, as BuildKit writes them.
	Names []string
}

// AttestingExporter is an Exporter that can also write an image with its
// attestations: an index of the image and its attestation manifest.
type AttestingExporter interface {
	Exporter
	ExportAttested(ctx context.Context, img v1.Image, a Attestations) (Result, error)
}

// AttestationManifest returns the attestation manifest of subject and the
// index entry that refers to it, in BuildKit's attestation storage
// format: an OCI manifest with one layer of media type
// application/vnd.in-toto+json per statement (annotated with
// in-toto.io/predicate-type), listed in the index with platform
// unknown/unknown and the annotations vnd.docker.reference.type=
// attestation-manifest and vnd.docker.reference.digest=subject's manifest
// digest. subject must be the image as it is written (converted): its
// digest is every statement's subject. A multi-platform index adds one
// per platform, after that platform's image.
func AttestationManifest(subject v1.Image, a Attestations) (mutate.IndexAddendum, error) {
	dgst, err := subject.Digest()
	if err != nil {
		return mutate.IndexAddendum{}, fmt.Errorf("make attestation manifest: %w", err)
	}
	var subjects []attest.Subject
	for _, n := range a.Names {
		subjects = append(subjects, attest.Subject{Name: subjectName(n, a.Platform), Digest: map[string]string{dgst.Algorithm: dgst.Hex}})
	}
	if len(subjects) == 0 {
		subjects = []attest.Subject{{Name: "_", Digest: map[string]string{dgst.Algorithm: dgst.Hex}}}
	}
	base := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	base, err = mutate.ConfigFile(base, &v1.ConfigFile{Architecture: "unknown", OS: "unknown", RootFS: v1.RootFS{Type: "layers"}})
	if err != nil {
		return mutate.IndexAddendum{}, fmt.Errorf("make attestation manifest: %w", err)
	}
	adds := make([]mutate.Addendum, 0, len(a.Predicates))
	for _, p := range a.Predicates {
		b, err := attest.Wrap(p, subjects)
		if err != nil {
			return mutate.IndexAddendum{}, fmt.Errorf("make attestation manifest: %w", err)
		}
		adds = append(adds, mutate.Addendum{
			Layer:       static.NewLayer(b, attest.MediaTypeInToto),
			MediaType:   attest.MediaTypeInToto,
			Annotations: map[string]string{attest.AnnotationPredicate: p.Type},
		})
	}
	img, err := mutate.Append(base, adds...)
	if err != nil {
		return mutate.IndexAddendum{}, fmt.Errorf("make attestation manifest: %w", err)
	}
	return mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
		MediaType: types.OCIManifestSchema1,
		Platform:  &v1.Platform{OS: "unknown", Architecture: "unknown"},
		Annotations: map[string]string{
			attest.AnnotationRefType:   attest.RefTypeAttestation,
			attest.AnnotationRefDigest: dgst.String(),
		},
	}}, nil
}

// subjectName is BuildKit's subject name of an image name (see
// attest.DockerPURL).
func subjectName(n string, p v1.Platform) string {
	ps := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		ps += "/" + p.Variant
	}
	return attest.DockerPURL(n, ps)
}

// AttestedIndex is the OCI index of a single-platform image and its
// attestation manifest, as buildx pushes a one-platform build with
// attestations. img must be converted already (see Convert).
func AttestedIndex(img v1.Image, a Attestations) (v1.ImageIndex, error) {
	mt, err := img.MediaType()
	if err != nil {
		return nil, fmt.Errorf("make attested index: %w", err)
	}
	p := a.Platform
	if cf, err := img.ConfigFile(); err == nil && cf.OS != "" {
		p = v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}
		a.Platform = p
	}
	att, err := AttestationManifest(img, a)
	if err != nil {
		return nil, err
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	return mutate.AppendManifests(idx,
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{MediaType: mt, Platform: &p}},
		att), nil
}

// pushIndex uploads idx to ref: the manifests and their blobs first, then
// the index (by tag), HEADed to check the registry has it.
func pushIndex(ctx context.Context, idx v1.ImageIndex, ref string, opts ...registry.Option) (v1.Hash, int64, error) {
	c := registry.New(opts...)
	r, err := c.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, 0, err
	}
	desc, err := partial.Descriptor(idx)
	if err != nil {
		return v1.Hash{}, 0, fmt.Errorf("push to %s: compute digest: %w", ref, err)
	}
	if err := remote.WriteIndex(r, idx, c.WriteOptions(ctx)...); err != nil {
		return v1.Hash{}, 0, c.Wrap(ctx, registry.OpPush, ref, err)
	}
	if err := confirm(ctx, c, r, desc.Digest, ref); err != nil {
		return v1.Hash{}, 0, err
	}
	return desc.Digest, desc.Size, nil
}

// ExportAttested pushes img and its attestation manifest, as one index,
// to every ref. Without a.Names the subjects are named after the refs.
func (e *pushExporter) ExportAttested(ctx context.Context, img v1.Image, a Attestations) (Result, error) {
	if len(a.Names) == 0 {
		a.Names = e.refs
	}
	pushed, err := e.p.exportPushAttested(ctx, img, e.refs, e.conv, &a)
	return Result{Pushed: pushed}, err
}

var _ AttestingExporter = (*pushExporter)(nil)
