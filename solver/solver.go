package solver

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/semaphore"
	"golang.org/x/sync/singleflight"

	"github.com/builderdev/builder/cache"
	"github.com/builderdev/builder/executor"
	"github.com/builderdev/builder/internal/filecopy"
	"github.com/builderdev/builder/internal/imagesource"
	"github.com/builderdev/builder/internal/platform"
	"github.com/builderdev/builder/parser"
	"github.com/builderdev/builder/snapshot"
	"github.com/builderdev/builder/store"
)

// Solver builds images. One Solver may run several builds at once; all
// share its store, cache and extracted layers.
type Solver struct {
	store       *store.Store
	cache       *cache.Cache
	layers      *snapshot.Layers
	snap        snapshot.Snapshotter
	exec        executor.Executor
	reporter    Reporter
	jobs        int // steps executing at once; 0: no bound
	remote      []remote.Option
	http        *http.Client
	cacheMounts string
	now         func() time.Time
	stats       *filecopy.StatCache // content digests by stat, for context hashing
	images      *imagesource.Source
	cacheDirs   *snapshot.CacheDirs // RUN --mount=type=cache directories
	maxExtract  int64               // see WithMaxExtractSize

	binfmtDir   string
	supportOnce sync.Once
	supported   *platform.Support
	supportErr  error

	// steps shares identical vertices (same cache key) across builds.
	steps singleflight.Group
	// vertices numbers vertices for progress, across builds.
	vertices atomic.Int64
}

// Option configures a Solver.
type Option func(*Solver)

// WithReporter sends progress events to r.
func WithReporter(r Reporter) Option { return func(s *Solver) { s.reporter = r } }

// WithJobs bounds how many steps of a build execute at once; n <= 0 (the
// default) runs every ready step at once, as BuildKit does. A step that
// waits for a slot reports StatusWaiting, then StatusStarted when it runs.
func WithJobs(n int) Option { return func(s *Solver) { s.jobs = n } }

// WithRemoteOptions adds go-containerregistry options (auth, transport)
// for pulling base images.
func WithRemoteOptions(o ...remote.Option) Option {
	return func(s *Solver) { s.remote = append(s.remote, o...) }
}

// WithHTTPClient is the client for ADD <url>.
func WithHTTPClient(c *http.Client) Option { return func(s *Solver) { s.http = c } }

// WithRunner sets how RUN steps get a root and run; without it RUN fails.
func WithRunner(snap snapshot.Snapshotter, exec executor.Executor) Option {
	return func(s *Solver) { s.snap, s.exec = snap, exec }
}

// WithCacheMountDir is where RUN --mount=type=cache directories persist.
func WithCacheMountDir(dir string) Option { return func(s *Solver) { s.cacheMounts = dir } }

// WithMaxExtractSize bounds the bytes one layer extraction or one ADD
// archive writes: n > 0 bytes; 0 (the default) keeps 5% of the disk free;
// n < 0 no bound.
func WithMaxExtractSize(n int64) Option {
	return func(s *Solver) {
		s.maxExtract = n
		s.layers = snapshot.NewLayers(s.store.LayersDir(), snapshot.WithCPULimiter(s.store.CPU()),
			snapshot.WithExtractOptions(snapshot.WithMaxExtractSize(n)))
	}
}

// New returns a Solver over a store and its cache.
func New(st *store.Store, c *cache.Cache, opts ...Option) *Solver {
	s := &Solver{
		store:    st,
		cache:    c,
		layers:   snapshot.NewLayers(st.LayersDir(), snapshot.WithCPULimiter(st.CPU())),
		reporter: discard{},
		http:     http.DefaultClient,
		now:      time.Now,
	}
	for _, o := range opts {
		o(s)
	}
	s.images = imagesource.New(st, imagesource.WithRemoteOptions(s.remote...), imagesource.WithNotify(func(msg string) {
		s.reporter.Report(Event{Time: time.Now(), Status: StatusInfo, Data: msg})
	}))
	// A stat cache that cannot be read only costs reads, never correctness.
	s.stats, _ = filecopy.OpenStatCache(filepath.Join(st.Root(), "statcache"))
	if s.cacheMounts == "" {
		s.cacheMounts = st.CacheMountsDir()
	}
	s.cacheDirs = snapshot.NewCacheDirs(s.cacheMounts)
	return s
}

// Request is one build.
type Request struct {
	// Lease, when set, is the caller's: what the build writes or uses is
	// recorded on it and stays safe from a prune until the caller releases
	// it (after tagging and exporting). Without it Build leases for itself
	// and releases when it returns.
	Lease *store.Lease

	Dockerfile *parser.Dockerfile
	ContextDir string
	Ignore     []string // .dockerignore patterns
	BuildArgs  map[string]string
	Target     string
	Platform   *v1.Platform // nil: the host's
	// Platforms, when more than one, build every platform in one solve
	// (Result.Platforms); one is the same as Platform.
	Platforms     []v1.Platform
	Labels        map[string]string
	NoCache       bool
	NoCacheFilter []string
	Explain       bool              // say why each executed step missed the cache
	Contexts      map[string]string // --build-context NAME=VALUE
	Secrets       map[string]Secret
	// SSH are the agent sockets for RUN --mount=type=ssh, by id.
	SSH    map[string]string
	Limits executor.Limits
	// SourceDateEpoch, when set, is the created time of the config and
	// history (reproducible builds).
	SourceDateEpoch *time.Time
	// RewriteTimestamp clamps file mtimes in new layers to SourceDateEpoch.
	RewriteTimestamp bool
	// Security is the build's --security: "" or "sandbox" (RUN steps get
	// Docker's default seccomp profile), or "insecure" (every RUN without).
	Security string
	// AllowSecurityInsecure is --allow security.insecure: RUN
	// --security=insecure is refused without it (BuildKit's entitlement).
	AllowSecurityInsecure bool
}

// Result is a finished build.
type Result struct {
	Image  v1.Image
	Config *v1.ConfigFile
	// Keys are the cache keys of the layer steps the image is made of;
	// AllKeys those of every layer step of the build (for cache export
	// with mode=min and mode=max).
	Keys, AllKeys []v1.Hash
	Steps         int // vertices executed
	Cached        int // vertices served from the cache
	Elapsed       time.Duration

	// BaseImages are the images the build resolved, for provenance.
	BaseImages []BaseImage
	// Platform is the platform the image was built for.
	Platform v1.Platform
	// Platforms are the per-platform results of a multi-platform build,
	// in the order of Request.Platforms; Image and Config are then nil,
	// Keys and AllKeys those of every platform, Steps and Cached the sums.
	Platforms []*Result
}

func hostPlatform() v1.Platform { return platform.Host() }

// ParsePlatform validates a --platform value.
func ParsePlatform(s string) (v1.Platform, error) {
	if s == "" {
		return hostPlatform(), nil
	}
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return v1.Platform{}, fmt.Errorf("invalid platform %q: %w", s, err)
	}
	*p = platform.Normalize(*p)
	if p.OS != "linux" {
		return v1.Platform{}, fmt.Errorf("invalid platform %q: only linux images can be built", s)
	}
	switch p.Architecture {
	case "amd64", "arm64", "arm", "386", "ppc64le", "s390x", "riscv64", "mips64le", "loong64":
	default:
		return v1.Platform{}, fmt.Errorf("invalid platform %q: unknown architecture %q", s, p.Architecture)
	}
	return *p, nil
}

// ParsePlatforms validates a --platform list ("linux/amd64,linux/arm64"):
// each value as ParsePlatform does, none twice once normalised.
func ParsePlatforms(s string) ([]v1.Platform, error) {
	if strings.TrimSpace(s) == "" {
		return []v1.Platform{hostPlatform()}, nil
	}
	var out []v1.Platform
	seen := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			return nil, fmt.Errorf("invalid platform list %q: empty entry", s)
		}
		p, err := ParsePlatform(f)
		if err != nil {
			return nil, err
		}
		if seen[platform.String(p)] {
			return nil, fmt.Errorf("invalid platform list %q: %s given twice", s, platform.String(p))
		}
		seen[platform.String(p)] = true
		out = append(out, p)
	}
	return out, nil
}

// Build runs one build and returns its image.
func (s *Solver) Build(ctx context.Context, req *Request) (*Result, error) {
	if len(req.Platforms) > 1 {
		return s.buildPlatforms(ctx, req)
	}
	if len(req.Platforms) == 1 {
		r := *req
		r.Platform, r.Platforms = &r.Platforms[0], nil
		req = &r
	}
	start := s.now()
	b, err := s.newBuild(req)
	if err != nil {
		return nil, err
	}
	res, err := b.buildImage(ctx, start)
	if sr, ok := b.rep.(*scrubReporter); ok {
		sr.flushAll()
	}
	return res, b.scrub.scrubError(err)
}

// buildImage solves the build and assembles its image.
func (b *build) buildImage(ctx context.Context, start time.Time) (*Result, error) {
	s := b.s
	for _, w := range secretsUsedInArgOrEnv(b.df) {
		b.warn(w)
	}
	lease := b.req.Lease
	if lease == nil {
		var err error
		if lease, err = s.store.Lease(ctx); err != nil {
			return nil, fmt.Errorf("take store lease: %w", err)
		}
		defer lease.Release()
	}
	b.lease = lease
	st, err := b.solve(ctx)
	if s.stats != nil {
		s.stats.Save() // best effort: a lost save costs reads next time
	}
	if err != nil {
		return nil, err
	}
	img, err := b.finalImage(st)
	if err != nil {
		return nil, err
	}
	return &Result{Image: img, Config: st.cfg, Keys: st.steps, AllKeys: b.stepKeys, BaseImages: b.bases.all(), Platform: b.platform,
		Steps: int(b.ran.Load()), Cached: int(b.hit.Load()), Elapsed: s.now().Sub(start)}, nil
}

func (s *Solver) newBuild(req *Request) (*build, error) {
	b := &build{s: s, req: req, df: req.Dockerfile, contextDir: req.ContextDir}
	b.scrub = newScrubber(req.Secrets)
	b.rep = newScrubReporter(s.reporter, b.scrub)
	if s.jobs > 0 {
		b.sem = semaphore.NewWeighted(int64(s.jobs))
	}
	b.platform = hostPlatform()
	if req.Platform != nil {
		b.platform = platform.Normalize(*req.Platform)
	}
	b.contexts = map[string]namedContext{}
	for k, v := range req.Contexts {
		nc, err := parseNamedContext(v)
		if err != nil {
			return nil, err
		}
		b.contexts[strings.ToLower(k)] = nc
	}
	b.noCacheFilter = map[string]bool{}
	for _, f := range req.NoCacheFilter {
		b.noCacheFilter[strings.ToLower(f)] = true
	}
	b.created = s.now().UTC()
	if req.SourceDateEpoch != nil {
		b.created = req.SourceDateEpoch.UTC()
	}
	return b, nil
}

// warn reports a build check's warning, as BuildKit's "WARN: ..." lines.
func (b *build) warn(msg string) { b.info("WARN: " + msg) }

func (b *build) info(msg string) {
	b.reporter().Report(Event{Time: time.Now(), Status: StatusInfo, Data: msg})
}
