package registry

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Option configures a Client and the package's functions: keychain,
// transport, retries, push parallelism, progress and blob mounts.
type Option func(*config)

type config struct {
	keychain    authn.Keychain
	getenv      func(string) string
	ecrCacheDir string
	insecure    []string
	certsDir    string
	transport   http.RoundTripper
	jobs        int
	retry       retryPolicy
	progress    chan<- v1.Update
	mountFrom   []string
	userAgent   string
}

func makeConfig(opts []Option) *config {
	c := &config{
		getenv:   os.Getenv,
		certsDir: DefaultCertsDir,
		jobs:     4,
		// Resets, timeouts, 408, 429 and 5xx are retried: 1s, 2s, 4s, 8s
		// (with jitter), within MaxRetryTime.
		retry:     retryPolicy{tries: DefaultTries, first: DefaultRetryWait, maxElapsed: MaxRetryTime},
		userAgent: "builder",
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// WithKeychain sets the credentials source (default NewKeychain with the
// same options).
func WithKeychain(kc authn.Keychain) Option { return func(c *config) { c.keychain = kc } }

// WithGetenv sets how the keychain reads REGISTRY_AUTH_FILE,
// XDG_RUNTIME_DIR, GITHUB_TOKEN, GHCR_TOKEN and GITHUB_ACTOR (default
// os.Getenv). Docker's config and the AWS SDK read the process environment
// themselves.
func WithGetenv(getenv func(string) string) Option {
	return func(c *config) { c.getenv = getenv }
}

// WithECRCacheDir sets where ECR authorization tokens are cached between
// runs (default: ecr-login's, $AWS_ECR_CACHE_DIR or ~/.ecr; the cache is
// off when AWS_ECR_DISABLE_CACHE is set).
func WithECRCacheDir(dir string) Option {
	return func(c *config) { c.ecrCacheDir = dir }
}

// WithInsecureRegistries lists hosts (HOST or HOST:PORT) that may be
// reached over plain http and whose TLS certificates are not verified, like
// Docker's --insecure-registry. Loopback hosts may always use plain http.
func WithInsecureRegistries(hosts ...string) Option {
	return func(c *config) { c.insecure = append(c.insecure, hosts...) }
}

// WithCertsDir sets the per-registry certificates directory, laid out like
// /etc/docker/certs.d: DIR/HOST[:PORT]/*.crt are CAs trusted in addition
// to the system pool, DIR/HOST[:PORT]/NAME.cert + NAME.key a client
// certificate. The default is DefaultCertsDir; "" disables it.
func WithCertsDir(dir string) Option { return func(c *config) { c.certsDir = dir } }

// WithTransport replaces the registry transport (insecure hosts and the
// certificates dir are then the transport's business; retries are still
// added around it).
func WithTransport(t http.RoundTripper) Option {
	return func(c *config) { c.transport = t }
}

// WithJobs sets how many blobs are uploaded at once (default 4).
func WithJobs(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.jobs = n
		}
	}
}

// WithRetry sets how often a request that failed with a connection reset
// or refusal, a timeout, a cut body or a 408/429/5xx status is tried
// (steps, at least 1; default DefaultTries) and the first wait, which
// doubles each time (default DefaultRetryWait; a longer Retry-After wins).
// One request with its retries never takes longer than MaxRetryTime.
func WithRetry(steps int, first time.Duration) Option {
	return func(c *config) {
		if steps < 1 {
			steps = 1
		}
		c.retry.tries, c.retry.first = steps, max(first, 0)
	}
}

// withRetryTime sets the time bound of one request (tests).
func withRetryTime(d time.Duration) Option {
	return func(c *config) { c.retry.maxElapsed = d }
}

// WithProgress sends upload progress to ch (see Client.WriteOptions; the
// write closes it when done).
func WithProgress(ch chan<- v1.Update) Option {
	return func(c *config) { c.progress = ch }
}

// WithMountFrom names a repository (e.g. "registry.example.com/base") on
// the target registry whose blobs the registry may mount instead of
// receiving an upload (a cross-repository blob mount): typically the base
// image's repository. A layer that is not there is uploaded as usual.
// Layers that came from remote.Image of the same registry are mounted
// without this option (go-containerregistry's remote.MountableLayer). See
// Client.MountSource.
func WithMountFrom(repos ...string) Option {
	return func(c *config) { c.mountFrom = append(c.mountFrom, repos...) }
}

// Client holds one configuration (keychain, transport, retries) for any
// number of pulls and pushes; its transport reuses connections.
type Client struct {
	c *config
}

// New returns a Client for opts.
func New(opts ...Option) *Client {
	c := makeConfig(opts)
	if c.keychain == nil {
		c.keychain = newKeychain(c)
	}
	if c.transport == nil {
		c.transport = newRegistryTransport(c.certsDir, c.insecure)
	}
	c.transport = &retryTransport{inner: c.transport, p: c.retry}
	return &Client{c: c}
}

// ParseReference parses an image reference, marking the registry insecure
// (plain http allowed) when it is listed by WithInsecureRegistries.
func ParseReference(ref string, opts ...Option) (name.Reference, error) {
	return makeConfig(opts).parse(ref)
}

// ParseReference is the package's ParseReference with this client's
// insecure hosts.
func (cl *Client) ParseReference(ref string) (name.Reference, error) { return cl.c.parse(ref) }

func (c *config) parse(ref string) (name.Reference, error) {
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

// RemoteOptions returns go-containerregistry remote options with the
// keychain, transport (certificates dir, insecure hosts) and retries of
// opts, for pulling base images and cache and pushing cache.
func RemoteOptions(ctx context.Context, opts ...Option) []remote.Option {
	return New(opts...).RemoteOptions(ctx)
}

// RemoteOptions returns the go-containerregistry options of this client
// (without progress).
func (cl *Client) RemoteOptions(ctx context.Context) []remote.Option {
	c := cl.c
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(c.keychain),
		remote.WithTransport(c.transport),
		remote.WithJobs(c.jobs),
		// The transport retries each request (and resumes cut bodies);
		// go-containerregistry only starts blob uploads and manifest puts
		// over, at most as often, when a request of theirs that cannot be
		// sent again (a PATCH of the blob) failed.
		remote.WithRetryBackoff(remote.Backoff{Duration: c.retry.first, Factor: 2, Jitter: 0.1, Steps: c.retry.tries}),
		remote.WithRetryPredicate(shouldRestart),
		remote.WithRetryStatusCodes(),
		remote.WithUserAgent(c.userAgent),
	}
}

// WriteOptions are RemoteOptions plus the WithProgress channel, for
// remote.Write.
func (cl *Client) WriteOptions(ctx context.Context) []remote.Option {
	ropts := cl.RemoteOptions(ctx)
	if cl.c.progress != nil {
		ropts = append(ropts, remote.WithProgress(cl.c.progress))
	}
	return ropts
}

// MountSource returns the first WithMountFrom repository on ref's
// registry (other than ref's own repository), nil if none.
func (cl *Client) MountSource(ref name.Reference) name.Reference {
	for _, m := range cl.c.mountFrom {
		src, err := cl.c.parse(m)
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
