package build

import (
	"context"
	"errors"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/cache"
	"github.com/builderdev/builder/executor"
	"github.com/builderdev/builder/exporter"
	"github.com/builderdev/builder/registry"
	"github.com/builderdev/builder/solver"
	"github.com/builderdev/builder/store"
)

// config is what the options set.
type config struct {
	store     *store.Store
	cache     *cache.Cache
	reporter  solver.Reporter
	jobs      int
	isolation executor.Isolation
	registry  []registry.Option
	cacheFrom []CacheSpec
	cacheTo   []CacheSpec
	tags      []string
	exporters []exporter.Exporter
	before    func()
	unpackMax int64 // WithMaxExtractSize
	attest    Attest
}

// Option configures Run.
type Option func(*config)

// WithStore is the local store the build reads and writes; required.
func WithStore(st *store.Store) Option { return func(c *config) { c.store = st } }

// WithCache is the store's cache; without it Run opens the cache of the
// store.
func WithCache(ch *cache.Cache) Option { return func(c *config) { c.cache = ch } }

// WithReporter sends the build's progress events to r: the solver's, and
// build-wide StatusInfo events (isolation level, cache import warnings).
func WithReporter(r solver.Reporter) Option { return func(c *config) { c.reporter = r } }

// WithJobs bounds how many steps execute at once (solver.WithJobs).
func WithJobs(n int) Option { return func(c *config) { c.jobs = n } }

// WithIsolation sets how RUN steps are isolated; "" or "auto" (the
// default) picks the strongest level that works here.
func WithIsolation(level executor.Isolation) Option { return func(c *config) { c.isolation = level } }

// WithRegistryOptions say how to reach registries for base images and
// registry caches.
func WithRegistryOptions(opts ...registry.Option) Option {
	return func(c *config) { c.registry = append(c.registry, opts...) }
}

// WithCacheFrom imports these caches before the build.
func WithCacheFrom(specs ...CacheSpec) Option {
	return func(c *config) { c.cacheFrom = append(c.cacheFrom, specs...) }
}

// WithCacheTo exports the build's cache records to these destinations.
func WithCacheTo(specs ...CacheSpec) Option {
	return func(c *config) { c.cacheTo = append(c.cacheTo, specs...) }
}

// WithTags tags the image in the local store under these names, as
// store.NormalizeName spells them ("app" is app:latest).
func WithTags(names ...string) Option { return func(c *config) { c.tags = append(c.tags, names...) } }

// WithExporters hands the image to each exporter, in order, after it is
// tagged.
func WithExporters(e ...exporter.Exporter) Option {
	return func(c *config) { c.exporters = append(c.exporters, e...) }
}

// WithBeforeSolve has fn called once the caches are imported and the
// runner is set up, right before the solve starts: the moment to take note
// of what the store holds (to tell the layers the build reused from those
// it wrote).
func WithBeforeSolve(fn func()) Option { return func(c *config) { c.before = fn } }

// WithMaxExtractSize bounds each layer extraction and ADD archive
// (solver.WithMaxExtractSize): 0 keeps 5% of the disk free, < 0 no bound.
func WithMaxExtractSize(n int64) Option { return func(c *config) { c.unpackMax = n } }

// Result is a finished build.
type Result struct {
	*solver.Result
	// Digest is the image's manifest digest: the one the registry has
	// after the last push, else the image's own.
	Digest v1.Hash
	// ConfigDigest is the image ID (zero for a multi-platform build).
	ConfigDigest v1.Hash
	// Index is the image index of a multi-platform build (Result.Platforms
	// has its images), as tagged in the store; nil for one platform.
	Index v1.ImageIndex
	// Pushed lists every push the exporters made, in order.
	Pushed []exporter.Pushed
	// Isolation and Snapshotter say how RUN steps ran ("" if no runner
	// could be set up and the Dockerfile has no RUN).
	Isolation   executor.Isolation
	Snapshotter string
}

// Run builds req: imports caches, solves, exports caches, tags the image
// and runs the exporters. A failure of any of them fails the build, except
// cache imports and cache exports marked IgnoreError, which only warn.
func Run(ctx context.Context, req *solver.Request, opts ...Option) (*Result, error) {
	c := config{reporter: solver.ReporterFunc(func(solver.Event) {})}
	for _, o := range opts {
		o(&c)
	}
	st := c.store
	if st == nil {
		return nil, errors.New("build: no store (use WithStore)")
	}
	ch := c.cache
	if ch == nil {
		var err error
		if ch, err = cache.Open(st.CacheDir(), st); err != nil {
			return nil, err
		}
	}
	rep := c.reporter
	info := func(m string) { rep.Report(solver.Event{Time: time.Now(), Status: solver.StatusInfo, Data: m}) }
	ropts := registry.RemoteOptions(ctx, c.registry...)
	if err := importCaches(ctx, ch, c.cacheFrom, info, ropts...); err != nil {
		return nil, err
	}
	sopts := []solver.Option{
		solver.WithReporter(rep),
		solver.WithJobs(c.jobs),
		solver.WithRemoteOptions(ropts...),
		solver.WithCacheMountDir(st.CacheMountsDir()),
		solver.WithMaxExtractSize(c.unpackMax),
	}
	out := &Result{}
	r, err := newRunner(ctx, st, c.isolation)
	defer r.release()
	switch {
	case err == nil:
		info(r.describe())
		sopts = append(sopts, solver.WithRunner(r.snap, r.exec))
		out.Isolation, out.Snapshotter = r.level, r.kind
	case usesRun(req.Dockerfile):
		return nil, err
	}
	if c.before != nil {
		c.before()
	}
	started := time.Now()
	// One lease from the solve to the last export: a concurrent prune
	// cannot remove a blob of the result before it is tagged.
	lease, err := st.Lease(ctx)
	if err != nil {
		return nil, fmt.Errorf("take store lease: %w", err)
	}
	defer lease.Release()
	req.Lease = lease
	res, err := solver.New(st, ch, sopts...).Build(ctx, req)
	if err != nil {
		return nil, err
	}
	out.Result = res
	if err := exportCaches(ctx, ch, c.cacheTo, res.Keys, res.AllKeys, info, ropts...); err != nil {
		return nil, err
	}
	if len(res.Platforms) > 0 {
		if err := exportPlatforms(ctx, &c, req, res, out, started, info); err != nil {
			return nil, err
		}
	} else if err := exportImage(ctx, &c, req, res, out, started, info); err != nil {
		return nil, err
	}
	if n := len(out.Pushed); n > 0 {
		out.Digest = out.Pushed[n-1].Digest
	}
	return out, nil
}
