package build

import (
	"context"
	"fmt"

	"github.com/builderdev/builder/exporter"
	"github.com/builderdev/builder/solver"
	"github.com/builderdev/builder/store"
)

// exportImage tags and exports the image of a single-platform build.
func exportImage(ctx context.Context, c *config, res *solver.Result, out *Result) error {
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
	for _, e := range c.exporters {
		er, err := e.Export(ctx, res.Image)
		out.Pushed = append(out.Pushed, er.Pushed...)
		if err != nil {
			return err
		}
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
