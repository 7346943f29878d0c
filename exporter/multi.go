package exporter

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// IndexExporter is an Exporter that also takes the images of a
// multi-platform build. Every exporter of this package is one; DockerTar
// refuses several platforms, as buildx does.
type IndexExporter interface {
	Exporter
	ExportIndex(ctx context.Context, imgs []PlatformImage) (Result, error)
}

var (
	_ IndexExporter = (*OCITar)(nil)
	_ IndexExporter = (*DockerTar)(nil)
	_ IndexExporter = (*RootfsTar)(nil)
	_ IndexExporter = (*LocalDir)(nil)
	_ IndexExporter = (*pushExporter)(nil)
)

// ExportIndex writes the images, and the attestation manifests of those
// with Attestations (subjects named after the tar's name unless they have
// names), as one OCI image index (a Docker manifest list with
// oci-mediatypes=false and no attestations).
func (e *OCITar) ExportIndex(ctx context.Context, imgs []PlatformImage) (Result, error) {
	var names []string
	if e.name != "" {
		names = []string{e.name}
	}
	idx, release, err := BuildIndex(ctx, named(imgs, names), e.opts...)
	if err != nil {
		return Result{}, fmt.Errorf("write oci tar: %w", err)
	}
	defer release()
	return Result{}, e.dest.write(func(w io.Writer) error { return WriteOCIIndex(ctx, w, idx, e.name) })
}

// ExportIndex fails: a `docker load` tar holds one image per tag.
func (e *DockerTar) ExportIndex(_ context.Context, imgs []PlatformImage) (Result, error) {
	return Result{}, fmt.Errorf("write docker tar %s: type=docker cannot hold a multi-platform image (%s): build one --platform, or use type=oci or a push",
		e.dest, platformList(imgs))
}

// ExportIndex writes each platform's root file system under its directory
// ("linux_amd64/") of one tar.
func (e *RootfsTar) ExportIndex(ctx context.Context, imgs []PlatformImage) (Result, error) {
	return Result{}, e.dest.write(func(w io.Writer) error { return WriteRootfsTarPlatforms(ctx, w, imgs) })
}

// ExportIndex writes each platform's root file system into its own
// subdirectory ("linux_amd64/", "linux_arm64/").
func (e *LocalDir) ExportIndex(ctx context.Context, imgs []PlatformImage) (Result, error) {
	for _, pi := range imgs {
		if err := WriteLocal(ctx, pi.Image, filepath.Join(e.dir, platformDir(pi.Platform))); err != nil {
			return Result{}, err
		}
	}
	return Result{}, nil
}

// ExportIndex pushes the images, and the attestation manifests of those
// with Attestations (subjects named after the refs unless they have
// names), as one index to every ref.
func (e *pushExporter) ExportIndex(ctx context.Context, imgs []PlatformImage) (Result, error) {
	pushed, err := e.p.ofPlan(e.p.pushIndex(ctx, named(imgs, e.refs), e.refs, e.conv))
	return Result{Pushed: pushed}, err
}

func platformList(imgs []PlatformImage) string {
	var ps []string
	for _, pi := range imgs {
		ps = append(ps, platformString(pi.Platform))
	}
	return strings.Join(ps, ", ")
}

func platformDir(p v1.Platform) string { return strings.ReplaceAll(platformString(p), "/", "_") }

// PushPlatforms builds the index of imgs, converted as conv says, and
// pushes it to every ref in turn; it returns the pushes that finished. A
// failure of a push to several refs says which were pushed and which not.
func (p *Pusher) PushPlatforms(ctx context.Context, imgs []PlatformImage, refs []string, conv ...Option) ([]Pushed, error) {
	out, err := p.pushIndex(ctx, imgs, refs, conv)
	return out, pushedOf(out, refs, err)
}
