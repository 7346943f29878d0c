package exporter

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/registry"
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

// ExportIndex writes the images as one OCI image index (a Docker manifest
// list with oci-mediatypes=false).
func (e *OCITar) ExportIndex(ctx context.Context, imgs []PlatformImage) (Result, error) {
	idx, release, err := BuildIndex(ctx, imgs, e.opts...)
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

// ExportIndex pushes the images as one index to every ref.
func (e *pushExporter) ExportIndex(ctx context.Context, imgs []PlatformImage) (Result, error) {
	pushed, err := e.p.pushIndex(ctx, imgs, e.refs, e.conv)
	if err != nil {
		p := e.p
		p.mu.Lock()
		done, all := append([]string(nil), p.done...), append([]string(nil), p.planned...)
		p.mu.Unlock()
		return Result{Pushed: pushed}, partialPush(err, done, all)
	}
	return Result{Pushed: pushed}, nil
}

// pushIndex builds the index of imgs once, converted as conv says, and
// pushes it to every ref in turn, mounting blobs from earlier pushes.
func (p *Pusher) pushIndex(ctx context.Context, imgs []PlatformImage, refs []string, conv []Option) ([]Pushed, error) {
	if len(refs) == 0 {
		return nil, fmt.Errorf("push: no image name (use -t NAME or name=NAME)")
	}
	idx, release, err := BuildIndex(ctx, imgs, conv...)
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	defer release()
	raw, err := idx.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	var out []Pushed
	for _, ref := range refs {
		opts := append([]registry.Option{}, p.opts...)
		for _, prev := range p.pushed() {
			if r, err := registry.ParseReference(prev, opts...); err == nil {
				opts = append(opts, registry.WithMountFrom(r.Context().String()))
			}
		}
		d, err := PushIndex(ctx, idx, ref, opts...)
		if err != nil {
			return out, err
		}
		p.mu.Lock()
		p.done = append(p.done, ref)
		p.mu.Unlock()
		pu := Pushed{Ref: ref, Digest: d, Size: int64(len(raw))}
		out = append(out, pu)
		if p.report != nil {
			p.report(pu)
		}
	}
	return out, nil
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
// pushes it to every ref in turn; it returns the pushes that finished.
func (p *Pusher) PushPlatforms(ctx context.Context, imgs []PlatformImage, refs []string, conv ...Option) ([]Pushed, error) {
	out, err := p.pushIndex(ctx, imgs, refs, conv)
	if err != nil {
		var done []string
		for _, x := range out {
			done = append(done, x.Ref)
		}
		return out, partialPush(err, done, refs)
	}
	return out, nil
}
