package imagesource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
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

// ErrNotInStore is returned by Source.Store for a name the store has no
// image for.
var ErrNotInStore = errors.New("image not in the local store")

// Image is a resolved image: its identity, its config and its layers, all
// backed by the local store.
type Image struct {
	Ref    string  // what the user wrote, for messages and history
	Digest v1.Hash // manifest digest (zero for scratch)
	Config *v1.ConfigFile
	Layers []v1.Layer
}

// Scratch is the empty image. Its working directory is "/", as in every
// scratch stage of BuildKit.
func Scratch(p v1.Platform) *Image {
	return &Image{Ref: "scratch", Config: &v1.ConfigFile{
		Architecture: p.Architecture, OS: p.OS, Variant: p.Variant,
		RootFS: v1.RootFS{Type: "layers"},
		Config: v1.Config{WorkingDir: "/"},
	}}
}

// Source resolves images into one store. Safe for concurrent use.
type Source struct {
	store  *store.Store
	remote []remote.Option
	notify func(msg string)
}

// Option configures a Source.
type Option func(*Source)

// WithRemoteOptions adds go-containerregistry options (auth, transport)
// for pulls.
func WithRemoteOptions(o ...remote.Option) Option {
	return func(s *Source) { s.remote = append(s.remote, o...) }
}

// WithNotify receives what a user should hear about: which image is
// resolved in a registry, an image of another platform than asked.
func WithNotify(fn func(msg string)) Option { return func(s *Source) { s.notify = fn } }

// New returns a Source importing into st.
func New(st *store.Store, opts ...Option) *Source {
	s := &Source{store: st, notify: func(string) {}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Registry pulls ref for platform p.
func (s *Source) Registry(ctx context.Context, ref string, p v1.Platform, lease *store.Lease) (*Image, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("parse image reference %q: %w", ref, err)
	}
	opts := append([]remote.Option{remote.WithContext(ctx), remote.WithPlatform(p)}, s.remote...)
	s.notify("resolve image " + r.Name())
	// A config blob read with the wrong digest is fetched again, through
	// a new image: go-containerregistry keeps what it read even when the
	// read failed.
	var img v1.Image
	err = registry.RetryFetch(ctx, func() error {
		remote, err := remoteImage(r, p, opts)
		if err != nil {
			return err
		}
		img, err = s.withStoredConfig(ctx, remote)
		return err
	})
	var nf *platform.NotFoundError
	if errors.As(err, &nf) {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	if err != nil {
		return nil, registry.Wrap(ctx, registry.OpPull, ref, err)
	}
	im, err := s.Load(ctx, ref, img, p, lease)
	if err != nil {
		return nil, registry.Wrap(ctx, registry.OpPull, ref, err)
	}
	return im, nil
}

// storedConfig is a registry's image with its config blob at hand.
type storedConfig struct {
	v1.Image
	name v1.Hash // the manifest's config digest, which raw has
	raw  []byte
	cfg  *v1.ConfigFile
}

func (i *storedConfig) RawConfigFile() ([]byte, error)      { return i.raw, nil }
func (i *storedConfig) ConfigFile() (*v1.ConfigFile, error) { return i.cfg.DeepCopy(), nil }
func (i *storedConfig) ConfigName() (v1.Hash, error)        { return i.name, nil }

// withStoredConfig reads img's config blob from the store when the store
// has it (the manifest names it by digest, and the bytes are checked
// against that), else from the registry, and then keeps it in the store:
// a rebuild that resolves the same image again fetches its manifest only.
// Nothing refers to a kept config: prune may remove it like any
// unreferenced blob, and it is fetched again.
func (s *Source) withStoredConfig(ctx context.Context, img v1.Image) (v1.Image, error) {
	// From the manifest: go-containerregistry's ConfigName hashes the
	// fetched config.
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	name := m.Config.Digest
	raw, ok := s.storedBlob(ctx, name)
	if !ok {
		// The registry transport checks the bytes against their digest.
		if raw, err = img.RawConfigFile(); err != nil {
			return nil, err
		}
		// Best effort: a config that could not be kept is fetched next time.
		_, _, _ = s.store.WriteBlob(ctx, "config", bytes.NewReader(raw))
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parse config %s: %w", name, err)
	}
	return &storedConfig{Image: img, name: name, raw: raw, cfg: cfg}, nil
}

// storedBlob is the store's blob h, if it has it with that digest.
func (s *Source) storedBlob(ctx context.Context, h v1.Hash) ([]byte, bool) {
	rc, err := s.store.OpenBlob(ctx, h)
	if err != nil {
		return nil, false
	}
	defer rc.Close()
	raw, err := io.ReadAll(io.LimitReader(rc, maxConfigSize))
	if err != nil {
		return nil, false
	}
	if got, _, err := v1.SHA256(bytes.NewReader(raw)); err != nil || got != h {
		return nil, false
	}
	return raw, true
}

// maxConfigSize bounds a config read from the store.
const maxConfigSize = 64 << 20

// Store finds ref among the local store's tags; ErrNotInStore when it is
// not there (or not a valid name).
func (s *Source) Store(ctx context.Context, ref string, p v1.Platform, lease *store.Lease) (*Image, error) {
	n, err := store.NormalizeName(ref)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, ErrNotInStore)
	}
	img, err := s.store.ImagePlatform(ctx, n, p)
	var nf *platform.NotFoundError
	if errors.As(err, &nf) {
		return nil, err // a local index without p: not another image
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, ErrNotInStore)
	}
	return s.Load(ctx, ref, img, p, lease)
}

// annotationRefName is the tag of an OCI layout's index entry.
const annotationRefName = "org.opencontainers.image.ref.name"

// Layout opens target, an OCI image layout directory with an optional
// ":tag" (default latest) or "@digest", and picks p's image of an index.
func (s *Source) Layout(ctx context.Context, ref, target string, p v1.Platform, lease *store.Lease) (*Image, error) {
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
			return s.Load(ctx, ref, img, p, lease)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, fmt.Errorf("open image %s in %s: %w", d.Digest, dir, err)
		}
		return s.Load(ctx, ref, img, p, lease)
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

// Load imports img's layers into the store (each blob once, at most four
// at a time), leases them and returns the store-backed image.
func (s *Source) Load(ctx context.Context, ref string, img v1.Image, p v1.Platform, lease *store.Lease) (*Image, error) {
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", ref, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image %s: read config: %w", ref, err)
	}
	if cfg.OS != "" && cfg.OS != p.OS || cfg.Architecture != "" && platform.Normalize(v1.Platform{OS: p.OS, Architecture: cfg.Architecture}).Architecture != p.Architecture {
		s.notify(fmt.Sprintf("warning: image %s is %s/%s, not %s", ref, cfg.OS, cfg.Architecture, p.String()))
	}
	remoteLayers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("image %s: layers: %w", ref, err)
	}
	// The config names every layer's diffID: use it rather than let a
	// layer from a layout compute it by decompressing the blob on every
	// build (no-op rebuilds read no layer; extraction checks the diffID).
	if ids := cfg.RootFS.DiffIDs; len(ids) == len(remoteLayers) {
		for i, l := range remoteLayers {
			remoteLayers[i] = knownDiffID{Layer: l, diffID: ids[i]}
		}
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
				sl, err = s.store.ImportLayer(gctx, l)
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
			if err := lease.Add(gctx, d, id); err != nil {
				return err
			}
			layers[i] = sl
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return &Image{Ref: ref, Digest: digest, Config: cfg.DeepCopy(), Layers: layers}, nil
}

// knownDiffID is a layer whose diffID comes from its image's config.
type knownDiffID struct {
	v1.Layer
	diffID v1.Hash
}

func (l knownDiffID) DiffID() (v1.Hash, error) { return l.diffID, nil }
