package exporter

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/builderdev/builder/registry"
)

// Push uploads img to ref (a tag or digest reference) and returns the
// manifest digest the registry now has for it. Blobs go first, in parallel,
// skipped when the registry has them (HEAD) and mounted across
// repositories where possible; the manifest is put last, so a failed push
// never leaves the tag pointing at a partial image. After the put the
// manifest is HEADed and its digest compared with the image's.
//
// opts say how to reach the registry (keychain, transport, retries,
// WithJobs, WithProgress, WithMountFrom). Errors are registry.Error: one
// line naming the registry, the repository and the failed request;
// errors.Is tells registry.ErrNoCredentials, ErrCredentialsRejected,
// ErrDenied, ErrNotFound and ErrUnknownAuthority apart.
func Push(ctx context.Context, img v1.Image, ref string, opts ...registry.Option) (v1.Hash, error) {
	c := registry.New(opts...)
	r, err := c.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	want, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("push to %s: compute digest: %w", ref, err)
	}
	if m := c.MountSource(r); m != nil {
		img = &mountableImage{Image: img, from: m}
	}
	if err := remote.Write(r, img, c.WriteOptions(ctx)...); err != nil {
		return v1.Hash{}, c.Wrap(ctx, registry.OpPush, ref, err)
	}
	desc, err := remote.Head(r, c.RemoteOptions(ctx)...)
	if err != nil {
		return v1.Hash{}, c.Wrap(ctx, registry.OpPush, ref, fmt.Errorf("check pushed manifest: %w", err))
	}
	if desc.Digest != want {
		return v1.Hash{}, fmt.Errorf("push to %s: registry %s has manifest %s, pushed %s",
			ref, r.Context().RegistryStr(), desc.Digest, want)
	}
	return desc.Digest, nil
}

// mountableImage presents img's layers as remote.MountableLayer from one
// repository so that remote.Write tries a cross-repository mount first.
type mountableImage struct {
	v1.Image
	from name.Reference
}

func (m *mountableImage) wrap(l v1.Layer) v1.Layer {
	if _, ok := l.(*remote.MountableLayer); ok {
		return l
	}
	return &remote.MountableLayer{Layer: l, Reference: m.from}
}

func (m *mountableImage) Layers() ([]v1.Layer, error) {
	ls, err := m.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		out[i] = m.wrap(l)
	}
	return out, nil
}

// ConfigLayer lets the config blob be mounted too.
func (m *mountableImage) ConfigLayer() (v1.Layer, error) {
	l, err := partial.ConfigLayer(m.Image)
	if err != nil {
		return nil, err
	}
	return m.wrap(l), nil
}

func (m *mountableImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	l, err := m.Image.LayerByDigest(h)
	if err != nil {
		return nil, err
	}
	return m.wrap(l), nil
}
