package check

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/builderdev/builder/parser"
)

// RemoteResolver resolves base images in their registry with
// go-containerregistry's remote package (pass the registry package's
// RemoteOptions for credentials, certificates and retries).
type RemoteResolver struct {
	Options []remote.Option
}

var _ Resolver = (*RemoteResolver)(nil)

// Resolve returns the digest ref points at now (the index's, for a
// multi-platform image) and the config of the image for platform p.
func (r *RemoteResolver) Resolve(ctx context.Context, ref string, p parser.Platform) (*Image, error) {
	nr, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("parse image reference %q: %w", ref, err)
	}
	// The context goes last: it overrides one in Options.
	opts := append(append([]remote.Option{}, r.Options...), remote.WithContext(ctx))
	if p.OS != "" {
		opts = append(opts, remote.WithPlatform(v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}))
	}
	desc, err := remote.Get(nr, opts...)
	if err != nil {
		return nil, fmt.Errorf("resolve image %s: %w", ref, err)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("resolve image %s: %w", ref, err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config of %s: %w", ref, err)
	}
	return ImageFromConfig(desc.Digest.String(), cfg), nil
}

// ImageFromConfig makes an Image from a manifest digest and a config.
func ImageFromConfig(digest string, cfg *v1.ConfigFile) *Image {
	return &Image{
		Digest:   digest,
		Platform: parser.Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant},
		Env:      cfg.Config.Env,
		User:     cfg.Config.User,
	}
}
