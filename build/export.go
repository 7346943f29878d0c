package build

import (
	"context"
	"fmt"
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
		a := c.attest
		if a.Name == "" && len(c.tags) > 0 {
			a.Name = c.tags[0]
		}
		if preds, err = attestations(ctx, a, req, res, c.store.TmpDir(), started, info); err != nil {
			return fmt.Errorf("make attestations: %w", err)
		}
	}
	platform := v1.Platform{OS: res.Config.OS, Architecture: res.Config.Architecture, Variant: res.Config.Variant}
	skipped := false
	for _, e := range c.exporters {
		er, attested, err := export(ctx, e, res.Image, preds, platform)
		out.Pushed = append(out.Pushed, er.Pushed...)
		if err != nil {
			return err
		}
		skipped = skipped || !attested
	}
	if c.attest.any() && (skipped || len(preds) == 0) {
		info("attestations are attached to registry pushes only; other outputs have the image alone")
	}
	return nil
}

// exportPlatforms tags and exports a multi-platform build: the store's
// tags name an OCI index of the platforms' images, each exporter writes
// them all (exporter.IndexExporter). Digest is the index's.
func exportPlatforms(ctx context.Context, c *config, res *solver.Result, out *Result) error {
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
	for _, e := range c.exporters {
		ie, ok := e.(exporter.IndexExporter)
		if !ok {
			return fmt.Errorf("export %T: it cannot write a multi-platform build", e)
		}
		er, err := ie.ExportIndex(ctx, imgs)
		out.Pushed = append(out.Pushed, er.Pushed...)
		if err != nil {
			return err
		}
	}
	return nil
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
