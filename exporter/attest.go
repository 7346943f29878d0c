package exporter

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/builderdev/builder/internal/attest"
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
// attestations: an index of the image and its attestation manifest. The
// push and OCITar are; DockerTar, RootfsTar and LocalDir write the image
// alone (a `docker load` keeps no attestations). A multi-platform
// build's attestations go in the PlatformImages of ExportIndex.
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

// ExportAttested pushes img and its attestation manifest, as one index
// (BuildIndex), to every ref. Without a.Names the subjects are named after
// the refs.
func (e *pushExporter) ExportAttested(ctx context.Context, img v1.Image, a Attestations) (Result, error) {
	return e.ExportIndex(ctx, []PlatformImage{{Platform: a.Platform, Image: img, Attestations: &a}})
}

// ExportAttested writes img and its attestation manifest as one index
// (BuildIndex) in the OCI layout, as BuildKit's oci exporter does:
// index.json names the index. Without a.Names the subjects are named
// after the tar's name.
func (e *OCITar) ExportAttested(ctx context.Context, img v1.Image, a Attestations) (Result, error) {
	return e.ExportIndex(ctx, []PlatformImage{{Platform: a.Platform, Image: img, Attestations: &a}})
}

// named returns imgs with the subjects of their attestations named names
// where they have no names of their own.
func named(imgs []PlatformImage, names []string) []PlatformImage {
	out := make([]PlatformImage, len(imgs))
	for i, pi := range imgs {
		if pi.Attestations != nil && len(pi.Attestations.Names) == 0 {
			a := *pi.Attestations
			a.Names = names
			pi.Attestations = &a
		}
		out[i] = pi
	}
	return out
}

var (
	_ AttestingExporter = (*pushExporter)(nil)
	_ AttestingExporter = (*OCITar)(nil)
)
