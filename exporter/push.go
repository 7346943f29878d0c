package exporter

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// PushOption configures Push, Login and RemoteOptions.
type PushOption func(*pushConfig)

type pushConfig struct {
	keychain  authn.Keychain
	insecure  []string
	certsDir  string
	transport http.RoundTripper
	jobs      int
	backoff   remote.Backoff
	progress  chan<- v1.Update
	mountFrom []string
	userAgent string
}

func makePushConfig(opts []PushOption) *pushConfig {
	c := &pushConfig{
		certsDir: DefaultCertsDir,
		jobs:     4,
		// Resets and 5xx are retried: 1s, 2s, 4s, 8s (with jitter).
		backoff:   remote.Backoff{Duration: time.Second, Factor: 2, Jitter: 0.1, Steps: 5},
		userAgent: "builder",
	}
	for _, o := range opts {
		o(c)
	}
	if c.keychain == nil {
		c.keychain = NewKeychain()
	}
	if c.transport == nil {
		c.transport = newRegistryTransport(c.certsDir, c.insecure)
	}
	return c
}

// WithKeychain sets the credentials source (default NewKeychain()).
func WithKeychain(kc authn.Keychain) PushOption { return func(c *pushConfig) { c.keychain = kc } }

// WithInsecureRegistries lists hosts (HOST or HOST:PORT) that may be
// reached over plain http and whose TLS certificates are not verified, like
// Docker's --insecure-registry. Loopback hosts may always use plain http.
func WithInsecureRegistries(hosts ...string) PushOption {
	return func(c *pushConfig) { c.insecure = append(c.insecure, hosts...) }
}

// WithCertsDir sets the per-registry certificates directory, laid out like
// /etc/docker/certs.d: DIR/HOST[:PORT]/*.crt are CAs trusted in addition
// to the system pool, DIR/HOST[:PORT]/NAME.cert + NAME.key a client
// certificate. The default is DefaultCertsDir; "" disables it.
func WithCertsDir(dir string) PushOption { return func(c *pushConfig) { c.certsDir = dir } }

// WithTransport replaces the registry transport (insecure hosts and the
// certificates dir are then the transport's business).
func WithTransport(t http.RoundTripper) PushOption {
	return func(c *pushConfig) { c.transport = t }
}

// WithJobs sets how many blobs are uploaded at once (default 4).
func WithJobs(n int) PushOption {
	return func(c *pushConfig) {
		if n > 0 {
			c.jobs = n
		}
	}
}

// WithRetry sets how often a request that failed with a connection reset
// or a 408/429/5xx status is tried (steps, at least 1) and the first wait,
// which doubles each time.
func WithRetry(steps int, first time.Duration) PushOption {
	return func(c *pushConfig) {
		if steps < 1 {
			steps = 1
		}
		c.backoff = remote.Backoff{Duration: first, Factor: 2, Jitter: 0.1, Steps: steps}
	}
}

// WithPushProgress sends upload progress to ch (closed by Push when done).
func WithPushProgress(ch chan<- v1.Update) PushOption {
	return func(c *pushConfig) { c.progress = ch }
}

// WithMountFrom names a repository (e.g. "registry.example.com/base") on
// the target registry whose blobs the registry may mount instead of
// receiving an upload (a cross-repository blob mount): typically the base
// image's repository. A layer that is not there is uploaded as usual.
// Layers that came from remote.Image of the same registry are mounted
// without this option (go-containerregistry's remote.MountableLayer).
func WithMountFrom(repos ...string) PushOption {
	return func(c *pushConfig) { c.mountFrom = append(c.mountFrom, repos...) }
}

// ParseReference parses an image reference, marking the registry insecure
// (plain http allowed) when it is listed by WithInsecureRegistries.
func ParseReference(ref string, opts ...PushOption) (name.Reference, error) {
	c := &pushConfig{}
	for _, o := range opts {
		o(c)
	}
	return c.parse(ref)
}

func (c *pushConfig) parse(ref string) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("parse reference %q: %w", ref, err)
	}
	if isInsecureHost(r.Context().RegistryStr(), c.insecure) {
		r, err = name.ParseReference(ref, name.Insecure)
		if err != nil {
			return nil, fmt.Errorf("parse reference %q: %w", ref, err)
		}
	}
	return r, nil
}

// remoteOptions are the go-containerregistry options for this config.
func (c *pushConfig) remoteOptions(ctx context.Context) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(c.keychain),
		remote.WithTransport(c.transport),
		remote.WithJobs(c.jobs),
		remote.WithRetryBackoff(c.backoff),
		remote.WithRetryStatusCodes(http.StatusRequestTimeout, http.StatusTooManyRequests,
			http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable,
			http.StatusGatewayTimeout),
		remote.WithUserAgent(c.userAgent),
	}
}

// RemoteOptions returns go-containerregistry remote options with this
// package's keychain, transport (certificates dir, insecure hosts) and
// retries, for pulling base images and cache.
func RemoteOptions(ctx context.Context, opts ...PushOption) []remote.Option {
	return makePushConfig(opts).remoteOptions(ctx)
}

// Push uploads img to ref (a tag or digest reference) and returns the
// manifest digest the registry now has for it. Blobs go first, in parallel,
// skipped when the registry has them (HEAD) and mounted across
// repositories where possible; the manifest is put last, so a failed push
// never leaves the tag pointing at a partial image. After the put the
// manifest is HEADed and its digest compared with the image's.
//
// Errors are one line and name the registry; errors.Is tells
// ErrAuthentication, ErrDenied and ErrUnknownAuthority apart.
func Push(ctx context.Context, img v1.Image, ref string, opts ...PushOption) (v1.Hash, error) {
	c := makePushConfig(opts)
	r, err := c.parse(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	want, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("push to %s: compute digest: %w", ref, err)
	}
	if m := c.mountSource(r); m != nil {
		img = &mountableImage{Image: img, from: m}
	}
	ropts := c.remoteOptions(ctx)
	wopts := ropts
	if c.progress != nil {
		wopts = append(append([]remote.Option{}, ropts...), remote.WithProgress(c.progress))
	}
	if err := remote.Write(r, img, wopts...); err != nil {
		return v1.Hash{}, pushError(ref, r, err)
	}
	desc, err := remote.Head(r, ropts...)
	if err != nil {
		return v1.Hash{}, pushError(ref, r, fmt.Errorf("check pushed manifest: %w", err))
	}
	if desc.Digest != want {
		return v1.Hash{}, fmt.Errorf("push to %s: registry %s has manifest %s, pushed %s",
			ref, r.Context().RegistryStr(), desc.Digest, want)
	}
	return desc.Digest, nil
}

// mountSource picks the first WithMountFrom repository on ref's registry.
func (c *pushConfig) mountSource(ref name.Reference) name.Reference {
	for _, m := range c.mountFrom {
		src, err := c.parse(m)
		if err != nil {
			continue
		}
		if src.Context().RegistryStr() == ref.Context().RegistryStr() &&
			src.Context().String() != ref.Context().String() {
			return src
		}
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
