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
// repositories where possible; then the manifest is put by its digest and
// HEADed, and only then is the tag written (the manifest put again by
// tag) and HEADed, so a failed push never leaves the tag pointing at a
// partial image, and a tag either names the new image or is untouched.
// Every request is retried on resets, timeouts, 429 and 5xx (see
// registry.WithRetry); a failed blob upload is started over.
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
	return putThenTag(ctx, c, r, ref, want, img, func(d name.Reference) error {
		return remote.Write(d, img, c.WriteOptions(ctx)...)
	})
}

// putThenTag is the push protocol of an image or index (obj, of digest
// want) to r: write puts it and what it refers to by digest, which is
// HEADed; only then is the tag (if r is one) written and HEADed.
func putThenTag(ctx context.Context, c *registry.Client, r name.Reference, ref string, want v1.Hash, obj remote.Taggable, write func(byDigest name.Reference) error) (v1.Hash, error) {
	byDigest := r.Context().Digest(want.String())
	if err := write(byDigest); err != nil {
		return v1.Hash{}, c.Wrap(ctx, registry.OpPush, ref, err)
	}
	if err := confirm(ctx, c, byDigest, want, ref); err != nil {
		return v1.Hash{}, err
	}
	tag, ok := r.(name.Tag)
	if !ok {
		return want, nil
	}
	// Everything it refers to is in: now the tag.
	if err := remote.Tag(tag, obj, c.RemoteOptions(ctx)...); err != nil {
		return v1.Hash{}, c.Wrap(ctx, registry.OpPush, ref, fmt.Errorf("write tag: %w", err))
	}
	if err := confirm(ctx, c, tag, want, ref); err != nil {
		return v1.Hash{}, err
	}
	return want, nil
}

// confirm HEADs r and checks that the registry has manifest want there.
func confirm(ctx context.Context, c *registry.Client, r name.Reference, want v1.Hash, ref string) error {
	desc, err := remote.Head(r, c.RemoteOptions(ctx)...)
	if err != nil {
		return c.Wrap(ctx, registry.OpPush, ref, fmt.Errorf("check pushed manifest: %w", err))
	}
	if desc.Digest != want {
		return fmt.Errorf("push to %s: registry %s has manifest %s at %s, pushed %s",
			ref, r.Context().RegistryStr(), desc.Digest, r.Identifier(), want)
	}
	return nil
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
