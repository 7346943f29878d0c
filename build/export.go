package build

import (
	"context"
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/internal/attest"

	"github.com/builderdev/builder/exporter"
	"github.com/builderdev/builder/solver"
	"github.com/builderdev/builder/store"
)

// exportImage tags and exports the image of a single-platform build, with
// the attestations asked for on the exporters that can carry them.
func exportImage(ctx context.Context, c *config, req *solver.Request, res *solver.Result, out *Result, started time.Time, info func(string)) error {
	var err error
	if out.Digest, err = res.Image.Digest(); err != nil {
		return err
	}
	if out.ConfigDigest, err = res.Image.ConfigName(); err != nil {
		return err
	}
	for _, t := range c.tags {
		if err := c.store.Tag(ctx, storeName(t), res.Image); err != nil {
			return fmt.Errorf("tag %s: %w", t, err)
		}
	}
	var preds []attest.Predicate
	if c.attest.any() && attesting(c.exporters) {
		if preds, err = attestations(ctx, c.attestFor(), req, res, c.store.TmpDir(), started, info); err != nil {
			return fmt.Errorf("make attestations: %w", err)
		}
	}
	platform := v1.Platform{OS: res.Config.OS, Architecture: res.Config.Architecture, Variant: res.Config.Variant}
	var alone []string
	for _, e := range c.exporters {
		er, attested, err := export(ctx, e, res.Image, preds, platform)
		out.Pushed = append(out.Pushed, er.Pushed...)
		if err != nil {
			return err
		}
		if !attested {
			alone = append(alone, outputName(e))
		}
	}
	c.noteAlone(alone, info)
	return nil
}

// exportPlatforms tags and exports a multi-platform build: the store's
// tags name an OCI index of the platforms' images, each exporter writes
// them all (exporter.IndexExporter), those that can carry attestations
// (exporter.AttestingExporter) with one attestation manifest per
// platform. Digest is the store index's.
func exportPlatforms(ctx context.Context, c *config, req *solver.Request, res *solver.Result, out *Result, started time.Time, info func(string)) error {
	imgs := PlatformImages(res)
	idx, release, err := exporter.BuildIndex(ctx, imgs)
	if err != nil {
		return err
	}
	defer release()
	if out.Digest, err = idx.Digest(); err != nil {
		return err
	}
	out.Index = idx
	for _, t := range c.tags {
		if err := c.store.TagIndex(ctx, storeName(t), idx); err != nil {
			return fmt.Errorf("tag %s: %w", t, err)
		}
	}
	var attested []exporter.PlatformImage
	if c.attest.any() && attesting(c.exporters) {
		if attested, err = platformAttestations(ctx, c, req, res, imgs, started, info); err != nil {
			return err
		}
	}
	var alone []string
	for _, e := range c.exporters {
		ie, ok := e.(exporter.IndexExporter)
		if !ok {
			return fmt.Errorf("export %T: it cannot write a multi-platform build", e)
		}
		in := imgs
		if _, ok := e.(exporter.AttestingExporter); ok && attested != nil {
			in = attested
		} else {
			alone = append(alone, outputName(e))
		}
		er, err := ie.ExportIndex(ctx, in)
		out.Pushed = append(out.Pushed, er.Pushed...)
		if err != nil {
			return err
		}
	}
	c.noteAlone(alone, info)
	return nil
}

// platformAttestations returns imgs, each with the attestations of its
// platform's result: provenance with that platform's materials, the SBOM
// of that platform's image.
func platformAttestations(ctx context.Context, c *config, req *solver.Request, res *solver.Result, imgs []exporter.PlatformImage, started time.Time, info func(string)) ([]exporter.PlatformImage, error) {
	out := make([]exporter.PlatformImage, len(imgs))
	for i, pr := range res.Platforms {
		p := platformString(pr.Platform.OS, pr.Platform.Architecture, pr.Platform.Variant)
		preds, err := attestations(ctx, c.attestFor(), req, pr, c.store.TmpDir(), started,
			func(m string) { info(m + " (" + p + ")") })
		if err != nil {
			return nil, fmt.Errorf("make attestations: %s: %w", p, err)
		}
		out[i] = imgs[i]
		out[i].Attestations = &exporter.Attestations{Predicates: preds}
	}
	return out, nil
}

// attestFor is c's Attest with the SBOM named after the first tag unless
// it has a name.
func (c *config) attestFor() Attest {
	a := c.attest
	if a.Name == "" && len(c.tags) > 0 {
		a.Name = c.tags[0]
	}
	return a
}

// noteAlone says, when attestations were asked for, which outputs have
// the image alone (alone, and the local store if the build tags it), or
// that none has them.
func (c *config) noteAlone(alone []string, info func(string)) {
	if !c.attest.any() {
		return
	}
	const note = "attestations are attached to registry pushes and type=oci tars only"
	if len(c.tags) > 0 {
		alone = append(alone, "the local store ("+strings.Join(c.tags, ", ")+")")
	}
	switch {
	case !attesting(c.exporters):
		info(note + "; this build has neither, no attestations made")
	case len(alone) > 0:
		info(note + "; these have the image alone: " + strings.Join(alone, ", "))
	}
}

// outputName names an exporter in messages.
func outputName(e exporter.Exporter) string {
	if s, ok := e.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", e)
}

// PlatformImages lists the images of a multi-platform result with the
// platforms they were built for, normalised as BuildKit's index entries
// are ("linux/arm64", whatever variant the base image's config names).
func PlatformImages(res *solver.Result) []exporter.PlatformImage {
	var out []exporter.PlatformImage
	for _, pr := range res.Platforms {
		out = append(out, exporter.PlatformImage{Platform: pr.Platform, Image: pr.Image})
	}
	return out
}

func storeName(t string) string {
	if n, err := store.NormalizeName(t); err == nil {
		return n
	}
	return t
}
