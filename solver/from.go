package solver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"

	"github.com/builderdev/builder/internal/platform"
	"github.com/builderdev/builder/registry"
	"github.com/builderdev/builder/store"
)

// image is a resolved base image: its identity for cache keys, its config
// and its layers, all backed by the local store.
type image struct {
	ref    string  // what the user wrote, for messages and history
	digest v1.Hash // manifest digest (zero for scratch)
	config *v1.ConfigFile
	layers []v1.Layer
}

const annotationRefName = "org.opencontainers.image.ref.name"

// resolveImage finds ref in, in order: the named build contexts, the local
// store, the registry. Layers are imported into the store once by digest.
func (b *build) resolveImage(ctx context.Context, ref string, p v1.Platform) (*image, error) {
	if strings.EqualFold(ref, "scratch") {
		return scratchImage(p), nil
	}
	v, err, _ := b.images.Do(p.String()+" "+ref, func() (any, error) {
		return b.resolveImageOnce(ctx, ref, p)
	})
	if err != nil {
		return nil, err
	}
	return v.(*image), nil
}

func (b *build) resolveImageOnce(ctx context.Context, ref string, p v1.Platform) (*image, error) {
	if nc, ok := b.namedContext(ref); ok {
		switch nc.kind {
		case contextOCILayout:
			return b.fromLayout(ctx, ref, nc.target, p)
		case contextDockerImage:
			return b.fromRegistry(ctx, nc.target, p)
		default:
			return nil, fmt.Errorf("build context %q is a local directory, not an image", ref)
		}
	}
	if n, err := store.NormalizeName(ref); err == nil {
		img, err := b.s.store.ImagePlatform(ctx, n, p)
		var nf *platform.NotFoundError
		if errors.As(err, &nf) {
			return nil, err // a local index without p: not another image
		}
		if err == nil {
			return b.load(ctx, ref, img, p)
		}
	}
	return b.fromRegistry(ctx, ref, p)
}

// scratchImage is the empty base image. Its working directory is "/", as
// in every scratch stage of BuildKit.
func scratchImage(p v1.Platform) *image {
	return &image{ref: "scratch", config: &v1.ConfigFile{
		Architecture: p.Architecture, OS: p.OS, Variant: p.Variant,
		RootFS: v1.RootFS{Type: "layers"},
		Config: v1.Config{WorkingDir: "/"},
	}}
}

func (b *build) fromRegistry(ctx context.Context, ref string, p v1.Platform) (*image, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("parse image reference %q: %w", ref, err)
	}
	opts := append([]remote.Option{remote.WithContext(ctx), remote.WithPlatform(p)}, b.s.remote...)
	b.info("resolve image " + r.Name())
	// A config blob read with the wrong digest is fetched again, through
	// a new image: go-containerregistry keeps what it read even when the
	// read failed.
	var img v1.Image
	err = registry.RetryFetch(ctx, func() error {
		var err error
		if img, err = remoteImage(r, p, opts); err != nil {
			return err
		}
		_, err = img.RawConfigFile()
		return err
	})
	var nf *platform.NotFoundError
	if errors.As(err, &nf) {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	if err != nil {
		return nil, registry.Wrap(ctx, registry.OpPull, ref, err)
	}
	im, err := b.load(ctx, ref, img, p)
	if err != nil {
		return nil, registry.Wrap(ctx, registry.OpPull, ref, err)
	}
	return im, nil
}

func (b *build) fromLayout(ctx context.Context, ref, target string, p v1.Platform) (*image, error) {
	dir, sel := target, "latest"
	if i := strings.LastIndex(target, "@"); i >= 0 {
		dir, sel = target[:i], target[i+1:]
	} else if i := strings.LastIndex(target, ":"); i > strings.LastIndex(target, "/") {
		dir, sel = target[:i], target[i+1:]
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("open oci layout %s: %w", dir, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("read oci layout %s: %w", dir, err)
	}
	for _, d := range im.Manifests {
		if d.Digest.String() != sel && d.Annotations[annotationRefName] != sel {
			continue
		}
		if d.MediaType.IsIndex() {
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("open index %s in %s: %w", d.Digest, dir, err)
			}
			img, err := platformImage(child, p)
			if err != nil {
				return nil, fmt.Errorf("oci layout %s: %w", dir, err)
			}
			return b.load(ctx, ref, img, p)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("open image %s in %s: %w", d.Digest, dir, err)
		}
		return b.load(ctx, ref, img, p)
	}
	return nil, fmt.Errorf("oci layout %s has no image %q", dir, sel)
}

// platformImage picks p's image out of an index, the variant normalised
// (arm64 is arm64/v8); when it has none the error lists those it has.
func platformImage(idx v1.ImageIndex, p v1.Platform) (v1.Image, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	d, err := platform.Select(im, p)
	if err != nil {
		return nil, err
	}
	return idx.Image(d.Digest)
}

// remoteImage is ref's image for p: an index is resolved with
// platformImage, an image is taken as it is.
func remoteImage(r name.Reference, p v1.Platform, opts []remote.Option) (v1.Image, error) {
	desc, err := remote.Get(r, opts...)
	if err != nil {
		return nil, err
	}
	if !desc.MediaType.IsIndex() {
		return desc.Image()
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, err
	}
	return platformImage(idx, p)
}

// load imports img's layers into the store (each blob once, in parallel) and
// returns the store-backed image.
func (b *build) load(ctx context.Context, ref string, img v1.Image, p v1.Platform) (*image, error) {
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image %s: read config: %w", ref, err)
	}
	if cfg.OS != "" && cfg.OS != p.OS || cfg.Architecture != "" && platform.Normalize(v1.Platform{OS: p.OS, Architecture: cfg.Architecture}).Architecture != p.Architecture {
		b.info(fmt.Sprintf("warning: image %s is %s/%s, not %s", ref, cfg.OS, cfg.Architecture, p.String()))
	}
	remoteLayers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("image %s: layers: %w", ref, err)
	}
	layers := make([]v1.Layer, len(remoteLayers))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, l := range remoteLayers {
		g.Go(func() error {
			// A blob read with the wrong digest is never stored (the
			// store checks it) and is fetched again.
			var sl v1.Layer
			err := registry.RetryFetch(gctx, func() error {
				var err error
				sl, err = b.s.store.ImportLayer(gctx, l)
				return err
			})
			if err != nil {
				return fmt.Errorf("image %s: fetch layer: %w", ref, err)
			}
			// Lease at once: a prune must not take a reused blob before
			// this build extracts or exports it.
			d, err := sl.Digest()
			if err != nil {
				return err
			}
			id, err := sl.DiffID()
			if err != nil {
				return err
			}
			if err := b.lease.Add(gctx, d, id); err != nil {
				return err
			}
			layers[i] = sl
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return &image{ref: ref, digest: digest, config: cfg.DeepCopy(), layers: layers}, nil
}

// Named build contexts (--build-context NAME=VALUE).
type contextKind int

const (
	contextDir contextKind = iota
	contextOCILayout
	contextDockerImage
)

type namedContext struct {
	kind   contextKind
	target string
}

// ParseNamedContext checks one --build-context value.
func parseNamedContext(value string) (namedContext, error) {
	switch {
	case strings.HasPrefix(value, "oci-layout://"):
		return namedContext{kind: contextOCILayout, target: strings.TrimPrefix(value, "oci-layout://")}, nil
	case strings.HasPrefix(value, "docker-image://"):
		return namedContext{kind: contextDockerImage, target: strings.TrimPrefix(value, "docker-image://")}, nil
	case strings.Contains(value, "://"):
		return namedContext{}, fmt.Errorf("unsupported build context %q (want oci-layout://, docker-image:// or a directory)", value)
	}
	abs, err := filepath.Abs(value)
	if err != nil {
		return namedContext{}, fmt.Errorf("build context %q: %w", value, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return namedContext{}, fmt.Errorf("build context %q: %w", value, err)
	}
	if !fi.IsDir() {
		return namedContext{}, fmt.Errorf("build context %q: %w", value, errors.New("not a directory"))
	}
	return namedContext{kind: contextDir, target: abs}, nil
}

func (b *build) namedContext(ref string) (namedContext, bool) {
	nc, ok := b.contexts[strings.ToLower(ref)]
	if !ok {
		// docker accepts "docker.io/library/alpine" contexts for "alpine".
		if r, err := name.ParseReference(ref); err == nil {
			nc, ok = b.contexts[strings.ToLower(r.Context().RepositoryStr())]
		}
	}
	return nc, ok
}
