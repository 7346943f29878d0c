package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/pflag"

	"github.com/builderdev/builder/check"
	"github.com/builderdev/builder/parser"
	"github.com/builderdev/builder/registry"
	"github.com/builderdev/builder/solver"
	"github.com/builderdev/builder/store"
)

// checkOptions are the flags of `builder check`.
type checkOptions struct {
	file      string
	buildArgs []string
	target    string
	platform  string
	format    string
	pin       bool
	offline   bool
	reg       registryOptions
}

func (o *checkOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.file, "file", "f", "", "Dockerfile (default CONTEXT/Dockerfile; - reads stdin)")
	fs.StringArrayVar(&o.buildArgs, "build-arg", nil, "build-time variable K=V (K alone takes the host value)")
	fs.StringVar(&o.target, "target", "", "stage that would be built (default: the last)")
	fs.StringVar(&o.platform, "platform", "", "target platform (default: this machine's)")
	fs.StringVar(&o.format, "format", "human", "output: human, json, sarif")
	fs.BoolVar(&o.pin, "pin", false, "UnpinnedBaseImage: print the digest the base image's tag points at now")
	fs.BoolVar(&o.offline, "offline", false, "do not contact registries (base images only from the local store)")
	o.reg.addConnFlags(fs)
}

func checkCommand() command {
	o := &checkOptions{}
	return command{name: "check", usage: "[flags] [CONTEXT]", summary: "Check a Dockerfile against BuildKit's build checks and best practice, without building.",
		run: o.run, flags: o.AddFlags}
}

func (o *checkOptions) run(ctx context.Context, g *globalOptions, args []string, s stdio) error {
	if len(args) > 1 {
		return &exitError{code: 2, err: errors.New(`"builder check" takes at most 1 argument: the context directory`)}
	}
	switch o.format {
	case "human", "json", "sarif":
	default:
		return &exitError{code: 2, err: fmt.Errorf("invalid --format %q: want human, json or sarif", o.format)}
	}
	dir := "."
	if len(args) == 1 {
		dir = args[0]
	}
	contextDir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := checkContextDir(contextDir, dir); err != nil {
		return err
	}
	src, path, err := readDockerfile(o.file, contextDir, s.in)
	if err != nil {
		return err
	}
	rep, cerr := runCheck(ctx, g, checkRequest{
		src: src, path: path, contextDir: contextDir, buildArgs: o.buildArgs, target: o.target,
		platform: o.platform, pin: o.pin, offline: o.offline, reg: o.reg,
	})
	if rep == nil {
		return cerr
	}
	switch o.format {
	case "json":
		err = check.WriteJSON(s.out, rep)
	case "sarif":
		err = check.WriteSARIF(s.out, rep, sarifURI(path), version)
	default:
		err = check.WriteHuman(s.out, rep)
	}
	if err != nil {
		return err
	}
	if cerr != nil {
		return cerr
	}
	if rep.Failed() {
		return &exitError{code: 1, err: fmt.Errorf("check failed: %d of the findings are errors", rep.Count(check.LevelError))}
	}
	return nil
}

// checkFirst is `builder build --check`: it checks the Dockerfile, prints
// the findings on stderr and fails before the build when one is an error.
// It returns the reader the build must take the Dockerfile from when it
// comes from stdin.
func (o *buildOptions) checkFirst(ctx context.Context, g *globalOptions, contextDir string, src []byte, path string, s stdio) error {
	rep, err := runCheck(ctx, g, checkRequest{
		src: src, path: path, contextDir: contextDir, buildArgs: o.buildArgs, target: o.target,
		platform: o.platform, reg: o.reg, named: contextNames(o.contexts),
	})
	if err != nil {
		return err
	}
	if err := check.WriteHuman(s.err, rep); err != nil {
		return err
	}
	if rep.Failed() {
		return &exitError{code: 1, err: fmt.Errorf("check failed: %d of the findings are errors; not building", rep.Count(check.LevelError))}
	}
	return nil
}

// hints are the summary's `builder check` hints after a build: the rules
// that need only the Dockerfile (no context walk, no registry), so they
// cost the build nothing noticeable. With --check every finding was
// printed already, so there are none.
func (o *buildOptions) hints(ctx context.Context, src []byte, path string) []string {
	if o.check {
		return nil
	}
	rep, err := check.Run(ctx, src,
		check.WithName(dockerfileName(path)),
		check.WithBuildArgs(buildArgValues(o.buildArgs)),
		check.WithTarget(o.target),
		check.WithNamedContexts(contextNames(o.contexts)),
	)
	if err != nil {
		return nil // the build parsed it; a hint is never worth failing for
	}
	var hints []string
	for _, f := range rep.Findings {
		hints = append(hints, fmt.Sprintf("%s:%d %s: %s", f.File, f.Line, f.Rule, f.Message))
	}
	return hints
}

// contextNames are the NAMEs of --build-context NAME=VALUE flags.
func contextNames(flags []string) []string {
	var names []string
	for _, c := range flags {
		if n, _, ok := strings.Cut(c, "="); ok {
			names = append(names, n)
		}
	}
	return names
}

// dockerfileName is how errors and findings name the Dockerfile at path
// ("-" is stdin).
func dockerfileName(path string) string {
	if path == "-" {
		return "Dockerfile"
	}
	return filepath.Base(path)
}

// checkRequest is what both `builder check` and `build --check` pass.
type checkRequest struct {
	src              []byte
	path, contextDir string
	buildArgs        []string
	target, platform string
	pin, offline     bool
	reg              registryOptions
	named            []string // --build-context names
}

func runCheck(ctx context.Context, g *globalOptions, r checkRequest) (*check.Report, error) {
	ignore, err := readIgnore(r.contextDir, r.path)
	if err != nil {
		return nil, err
	}
	target, err := solver.ParsePlatform(r.platform)
	if err != nil {
		return nil, &exitError{code: 2, err: fmt.Errorf("invalid --platform: %w", err)}
	}
	build, err := solver.ParsePlatform("")
	if err != nil {
		return nil, err
	}
	res := &checkResolver{offline: r.offline}
	if !r.offline {
		res.remote = &check.RemoteResolver{Options: registry.RemoteOptions(ctx, r.reg.exporterOptions()...)}
	}
	if st := openStoreIfExists(g); st != nil {
		res.store = st
	}
	return check.Run(ctx, r.src,
		check.WithName(dockerfileName(r.path)),
		check.WithBuildArgs(buildArgValues(r.buildArgs)),
		check.WithTarget(r.target),
		check.WithPlatform(toParserPlatform(build), toParserPlatform(target)),
		check.WithContext(r.contextDir, ignore),
		check.WithResolver(res),
		check.WithPin(r.pin),
		check.WithNamedContexts(r.named),
	)
}

// readDockerfile reads -f (default CONTEXT/Dockerfile; "-" is stdin) and
// returns its bytes and path ("-" for stdin).
func readDockerfile(file, contextDir string, stdin io.Reader) ([]byte, string, error) {
	if file == "-" {
		b, err := io.ReadAll(stdin)
		if err != nil {
			return nil, "", fmt.Errorf("read Dockerfile from stdin: %w", err)
		}
		return b, "-", nil
	}
	if file == "" {
		file = filepath.Join(contextDir, "Dockerfile")
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, "", fmt.Errorf("open Dockerfile: %w", err)
	}
	return b, file, nil
}

// sarifURI names the Dockerfile relative to the working directory (the
// repository root in CI), as code scanning wants.
func sarifURI(path string) string {
	if path == "-" {
		return "Dockerfile"
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
			return filepath.ToSlash(rel)
		}
	}
	return filepath.ToSlash(path)
}

func buildArgValues(list []string) map[string]string {
	m := map[string]string{}
	for _, a := range list {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			hv, set := os.LookupEnv(k)
			if !set {
				continue
			}
			v = hv
		}
		m[k] = v
	}
	return m
}

func toParserPlatform(p v1.Platform) parser.Platform {
	return parser.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
}

// openStoreIfExists opens the store only when its root already exists, so
// that a check creates nothing.
func openStoreIfExists(g *globalOptions) *store.Store {
	root := g.root
	if root == "" {
		root = store.DefaultRoot(os.Getenv, os.Geteuid())
	}
	if _, err := os.Stat(filepath.Join(root, "oci", "index.json")); err != nil {
		return nil
	}
	st, err := store.Open(root)
	if err != nil {
		return nil
	}
	return st
}

// checkResolver finds base images as the build does: a tag in the local
// store first, then the registry (unless offline). Each lookup is bounded
// so that an unreachable registry only makes the rules that need the image
// skip it.
type checkResolver struct {
	store   *store.Store
	remote  *check.RemoteResolver
	offline bool
}

var _ check.Resolver = (*checkResolver)(nil)

const resolveTimeout = 20 * time.Second

func (r *checkResolver) Resolve(ctx context.Context, ref string, p parser.Platform) (*check.Image, error) {
	if r.store != nil {
		if n, err := store.NormalizeName(ref); err == nil {
			if img, err := r.store.Image(ctx, n); err == nil {
				d, err := img.Digest()
				if err != nil {
					return nil, fmt.Errorf("read %s from the store: %w", ref, err)
				}
				cfg, err := img.ConfigFile()
				if err != nil {
					return nil, fmt.Errorf("read %s from the store: %w", ref, err)
				}
				return check.ImageFromConfig(d.String(), cfg), nil
			}
		}
	}
	if r.remote == nil {
		return nil, fmt.Errorf("resolve %s: offline and not in the local store", ref)
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	return r.remote.Resolve(ctx, ref, p)
}
