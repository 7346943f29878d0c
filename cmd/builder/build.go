package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/pflag"

	"github.com/builderdev/builder/build"
	"github.com/builderdev/builder/executor"
	"github.com/builderdev/builder/internal/platform"
	"github.com/builderdev/builder/parser"
	"github.com/builderdev/builder/solver"
	"github.com/builderdev/builder/store"
)

// buildOptions are the flags of `builder build`.
type buildOptions struct {
	file          string
	tags          []string
	buildArgs     []string
	target        string
	outputs       []string
	iidFile       string
	metadataFile  string
	labels        []string
	platform      string
	progress      string
	noCache       bool
	noCacheFilter []string
	quiet         bool
	contexts      []string
	secrets       []string
	ssh           []string
	memory        string
	cpus          float64
	pidsLimit     int64
	isolation     string
	security      string
	allow         []string
	jobs          int
	explain       bool
	report        bool
	push          bool
	digestFile    string
	check         bool
	maxExtract    string
	reg           registryOptions
	cache         cacheOptions
	attest        attestOptions
}

func (o *buildOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVarP(&o.file, "file", "f", "", "Dockerfile (default CONTEXT/Dockerfile; - reads stdin)")
	fs.StringArrayVarP(&o.tags, "tag", "t", nil, "name the image in the local store (repeatable)")
	fs.StringArrayVar(&o.buildArgs, "build-arg", nil, "build-time variable K=V (K alone takes the host value)")
	fs.StringVar(&o.target, "target", "", "stage to build (default: the last)")
	fs.StringArrayVarP(&o.outputs, "output", "o", nil, "output: type=oci|docker|tar,dest=F; type=local,dest=DIR (dest=- is stdout)")
	fs.StringVar(&o.iidFile, "iidfile", "", "write the image ID (config digest) to this file")
	fs.StringVar(&o.metadataFile, "metadata-file", "", "write build result metadata (JSON) to this file")
	fs.StringArrayVar(&o.labels, "label", nil, "set an image label K=V (repeatable)")
	fs.StringVar(&o.platform, "platform", "", "target platforms, comma-separated (default: this machine's); several build one image index")
	fs.StringVar(&o.progress, "progress", "auto", "progress output: auto, tty, plain, json")
	fs.BoolVar(&o.noCache, "no-cache", false, "do not use the cache")
	fs.StringSliceVar(&o.noCacheFilter, "no-cache-filter", nil, "do not use the cache for these stages")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "print only the image ID")
	fs.StringArrayVar(&o.contexts, "build-context", nil, "named context NAME=DIR|oci-layout://DIR[:tag]|docker-image://REF")
	fs.StringArrayVar(&o.secrets, "secret", nil, "secret for RUN --mount=type=secret: id=X,src=FILE or id=X,env=VAR")
	fs.StringArrayVar(&o.ssh, "ssh", nil, "ssh agent for RUN --mount=type=ssh: default ($SSH_AUTH_SOCK) or ID=SOCKET")
	fs.StringVar(&o.memory, "memory", "", "memory limit of each RUN step (e.g. 512m)")
	fs.Float64Var(&o.cpus, "cpus", 0, "CPU limit of each RUN step (e.g. 1.5)")
	fs.Int64Var(&o.pidsLimit, "pids-limit", 0, "process limit of each RUN step")
	fs.StringVar(&o.isolation, "isolation", "auto", "isolation of RUN steps: auto, namespace, rootless, chroot")
	fs.StringVar(&o.security, "security", "sandbox", "security of RUN steps: sandbox (Docker's default seccomp profile) or insecure (none)")
	fs.StringSliceVar(&o.allow, "allow", nil, "entitlements: security.insecure lets RUN --security=insecure run (network.host is accepted: host is the default network)")
	fs.IntVar(&o.jobs, "jobs", 0, "run at most N steps at once; others wait for a slot (default 0: every ready step, no limit)")
	fs.BoolVar(&o.explain, "explain", false, "say for each step run why it missed the cache")
	fs.BoolVar(&o.report, "report", false, "after the build, report where the image's bytes went (as builder inspect --size)")
	fs.BoolVar(&o.push, "push", false, "push the image to every -t name after the build")
	fs.StringVar(&o.digestFile, "digest-file", "", "write the image's manifest digest (the pushed one with --push) to this file")
	fs.BoolVar(&o.check, "check", false, "run builder check first; do not build if a rule is an error")
	fs.StringVar(&o.maxExtract, "max-extract-size", "", "most bytes one layer extraction or ADD archive may write (e.g. 10g; default: keep 5% of the disk free; -1: no limit)")
	o.reg.AddFlags(fs)
	o.cache.AddFlags(fs)
	o.attest.AddFlags(fs)
}

func (o *buildOptions) run(ctx context.Context, g *globalOptions, args []string, s stdio) error {
	if len(args) != 1 {
		return usageError(errors.New(`"builder build" requires exactly 1 argument: the context directory`))
	}
	if err := o.checkChoices(); err != nil {
		return usageError(err)
	}
	contextDir, err := filepath.Abs(args[0])
	if err != nil {
		return err
	}
	if err := checkContextDir(contextDir, args[0]); err != nil {
		return err
	}
	// The Dockerfile is read once: for --check, the build and the hints.
	src, path, err := readDockerfile(o.file, contextDir, s.in)
	if err != nil {
		return err
	}
	if o.check { // builder check first (check.go)
		if err := o.checkFirst(ctx, g, contextDir, src, path, s); err != nil {
			return err
		}
	}
	outs, err := parseOutputs(o.outputs)
	if err != nil {
		return usageError(err)
	}
	cacheTo, cacheFrom, err := o.cache.parse()
	if err != nil {
		return usageError(err)
	}
	for _, t := range o.tags {
		if _, err := store.NormalizeName(t); err != nil {
			return usageError(fmt.Errorf("invalid tag %q: %w", t, err))
		}
	}
	// Like buildx, a push with nowhere to push fails before building.
	targets, err := pushTargets(o.push, o.tags, outs)
	if err != nil {
		return err
	}
	att, err := o.attest.parse(len(targets) > 0, os.Getenv("BUILDX_NO_DEFAULT_ATTESTATIONS"))
	if err != nil {
		return usageError(err)
	}
	req, err := o.request(contextDir, src, path)
	if err != nil {
		return err
	}
	att.DockerfilePath, att.Dockerfile = req.Dockerfile.Name, src
	req.RewriteTimestamp = rewriteTimestamp(outs)
	if err := checkMultiOutputs(req.Platforms, outs); err != nil {
		return usageError(err)
	}
	st, c, err := g.openCache()
	if err != nil {
		return err
	}
	render, closeRep := newRenderer(o.progress, o.quiet, s.err)
	defer closeRep()
	rep := newRunningSteps(render)
	exps, err := outputExporters(outs, o.tags, s.out, st)
	if err != nil {
		return err
	}
	maxExtract, err := parseMaxExtract(o.maxExtract)
	if err != nil {
		return usageError(err)
	}
	exps = append(exps, pushExporters(o.reg.pusher(pushReport(render)), st, targets)...)
	var before map[string]bool
	res, err := build.Run(ctx, req,
		build.WithStore(st), build.WithCache(c), build.WithReporter(rep), build.WithJobs(o.jobs),
		build.WithIsolation(executor.Isolation(o.isolation)), build.WithRegistryOptions(o.reg.exporterOptions()...),
		build.WithCacheFrom(cacheFrom...), build.WithCacheTo(cacheTo...),
		build.WithTags(o.tags...), build.WithExporters(exps...), build.WithAttestations(att),
		build.WithBeforeSolve(func() { before = knownBlobs(st) }), build.WithMaxExtractSize(maxExtract))
	if err != nil {
		closeRep()
		if ctx.Err() != nil {
			return interrupted(rep.names())
		}
		return err
	}
	// The digest reported is the one the registry has (the last push's).
	digest, cfgDigest := res.Digest, res.ConfigDigest
	names := o.tags
	if len(res.Pushed) > 0 {
		names = nil
		for _, p := range res.Pushed {
			names = append(names, p.Ref)
		}
	}
	imageID := cfgDigest
	md := map[string]any{"containerimage.config.digest": cfgDigest.String()}
	if res.Index != nil {
		// As buildx: a multi-platform build's ID is its index digest.
		imageID, md = digest, map[string]any{}
	}
	if o.iidFile != "" {
		if err := os.WriteFile(o.iidFile, []byte(imageID.String()), 0o644); err != nil {
			return fmt.Errorf("write iidfile: %w", err)
		}
	}
	if err := writePushFiles(o.digestFile, o.metadataFile, digest, names, md); err != nil {
		return err
	}
	closeRep()
	imgs := []v1.Image{res.Image}
	var platforms []string
	if res.Index != nil {
		imgs = nil
		for _, pi := range build.PlatformImages(res.Result) {
			imgs = append(imgs, pi.Image)
			platforms = append(platforms, platform.String(pi.Platform))
		}
	}
	if o.report { // asked for, so printed with -q too
		for i, img := range imgs {
			if len(platforms) > 0 {
				fmt.Fprintf(s.err, "%s:\n", platforms[i])
			}
			if err := sizeReport(ctx, s.err, img); err != nil {
				return err
			}
		}
	}
	if o.quiet {
		fmt.Fprintln(s.out, imageID.String())
		return nil
	}
	sum := buildSummary{digest: digest, config: cfgDigest, platforms: platforms, ran: res.Steps, cached: res.Cached, elapsed: res.Elapsed}
	for _, img := range imgs {
		l, r := layerReuse(img, before)
		sum.size += imageSize(img)
		sum.layers += l
		sum.reused += r
	}
	printSummary(s.err, sum, o.hints(ctx, src, path))
	for _, t := range o.tags {
		fmt.Fprintf(s.err, "tagged %s\n", tagName(t))
	}
	return nil
}

// checkMultiOutputs refuses, before building, an output that cannot hold
// several platforms: type=docker, as with buildx.
func checkMultiOutputs(platforms []v1.Platform, outs []output) error {
	if len(platforms) < 2 {
		return nil
	}
	var names []string
	for _, p := range platforms {
		names = append(names, platform.String(p))
	}
	for _, out := range outs {
		if out.typ == "docker" {
			return fmt.Errorf("invalid --output type=docker: it cannot hold a multi-platform image (%s): build one --platform, or use type=oci or a push", strings.Join(names, ", "))
		}
	}
	return nil
}

// checkContextDir says why dir (given as arg) cannot be a build context:
// missing, not a directory, or not readable.
func checkContextDir(dir, arg string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ENOTDIR): // ENOTDIR: a parent is a file
		return fmt.Errorf("context %s: no such directory", arg)
	case err != nil:
		return fmt.Errorf("context %s: %w", arg, err)
	case !fi.IsDir():
		return fmt.Errorf("context %s: not a directory (a build context is a directory)", arg)
	}
	return nil
}

// steps is "1 step" or "N steps", for the summary line.
func steps(n int) string {
	if n == 1 {
		return "1 step"
	}
	return strconv.Itoa(n) + " steps"
}

// request builds the solver request from the flags.
// src is the Dockerfile read from path ("-" for stdin).
func (o *buildOptions) request(contextDir string, src []byte, path string) (*solver.Request, error) {
	df, err := parser.Parse(bytes.NewReader(src), parser.WithName(dockerfileName(path)))
	if err != nil {
		return nil, err
	}
	ignore, err := readIgnore(contextDir, path)
	if err != nil {
		return nil, err
	}
	platforms, err := solver.ParsePlatforms(o.platform)
	if err != nil {
		return nil, usageError(fmt.Errorf("invalid --platform: %w", err))
	}
	req := &solver.Request{
		Dockerfile: df, ContextDir: contextDir, Ignore: ignore, Target: o.target,
		Platform: &platforms[0], Platforms: platforms, NoCache: o.noCache, NoCacheFilter: o.noCacheFilter, Explain: o.explain,
		BuildArgs: map[string]string{}, Labels: map[string]string{},
		Contexts: map[string]string{}, Secrets: map[string]solver.Secret{},
	}
	for _, a := range o.buildArgs {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			hv, set := os.LookupEnv(k)
			if !set {
				continue // docker ignores a bare name that is not set
			}
			v = hv
		}
		req.BuildArgs[k] = v
	}
	if sde, ok := req.BuildArgs["SOURCE_DATE_EPOCH"]; ok {
		if err := setEpoch(req, sde); err != nil {
			return nil, err
		}
	} else if sde := os.Getenv("SOURCE_DATE_EPOCH"); sde != "" {
		if err := setEpoch(req, sde); err != nil {
			return nil, err
		}
	}
	for _, l := range o.labels {
		k, v, _ := strings.Cut(l, "=")
		req.Labels[k] = v
	}
	for _, c := range o.contexts {
		k, v, ok := strings.Cut(c, "=")
		if !ok || k == "" {
			return nil, usageError(fmt.Errorf("invalid --build-context %q: want NAME=VALUE", c))
		}
		req.Contexts[k] = v
	}
	for _, sec := range o.secrets {
		id, src, err := parseSecret(sec)
		if err != nil {
			return nil, usageError(err)
		}
		req.Secrets[id] = src
	}
	req.SSH = map[string]string{}
	for _, v := range o.ssh {
		id, sock, ok := strings.Cut(v, "=")
		if !ok {
			sock = os.Getenv("SSH_AUTH_SOCK")
		}
		if id == "" || sock == "" {
			return nil, usageError(fmt.Errorf("invalid --ssh %q: want default, ID or ID=SOCKET (a bare ID needs $SSH_AUTH_SOCK)", v))
		}
		req.SSH[id] = sock
	}
	if o.memory != "" {
		n, err := parseBytes(o.memory)
		if err != nil {
			return nil, usageError(fmt.Errorf("invalid --memory: %w", err))
		}
		req.Limits.Memory = n
	}
	req.Limits.CPUs = o.cpus
	req.Limits.Pids = o.pidsLimit
	req.Security = o.security
	for _, a := range o.allow {
		switch a {
		case "security.insecure":
			req.AllowSecurityInsecure = true
		case "network.host":
		default:
			return nil, usageError(fmt.Errorf("invalid --allow %q: want security.insecure or network.host", a))
		}
	}
	return req, nil
}

// checkChoices refuses flag values outside a fixed set.
func (o *buildOptions) checkChoices() error {
	switch o.progress {
	case "", "auto", "tty", "plain", "json":
	default:
		return fmt.Errorf("invalid --progress %q: want auto, tty, plain or json", o.progress)
	}
	switch o.isolation {
	case "", "auto", string(executor.Namespace), string(executor.Rootless), string(executor.Chroot):
	default:
		return fmt.Errorf("invalid --isolation %q: want auto, namespace, rootless or chroot", o.isolation)
	}
	switch o.security {
	case "", executor.SecuritySandbox, executor.SecurityInsecure:
	default:
		return fmt.Errorf("invalid --security %q: want sandbox or insecure", o.security)
	}
	if o.jobs < 0 {
		return fmt.Errorf("invalid --jobs %d: want 0 (no limit) or more", o.jobs)
	}
	return nil
}

func setEpoch(req *solver.Request, v string) error {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return fmt.Errorf("invalid SOURCE_DATE_EPOCH %q: %w", v, err)
	}
	t := time.Unix(n, 0).UTC()
	req.SourceDateEpoch = &t
	return nil
}

// readIgnore reads Dockerfile.dockerignore beside the Dockerfile, else
// CONTEXT/.dockerignore.
func readIgnore(contextDir, dockerfile string) ([]string, error) {
	cands := []string{}
	if dockerfile != "" && dockerfile != "-" {
		cands = append(cands, dockerfile+".dockerignore")
	}
	cands = append(cands, filepath.Join(contextDir, ".dockerignore"))
	for _, p := range cands {
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		defer f.Close()
		pats, err := parser.ReadDockerignore(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		return pats, nil
	}
	return nil, nil
}

func parseSecret(s string) (string, solver.Secret, error) {
	var id string
	var sec solver.Secret
	for _, f := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "id":
			id = v
		case "src", "source":
			sec.Src = v
		case "env":
			sec.Env = v
		case "type":
			if v != "file" && v != "env" {
				return "", sec, fmt.Errorf("invalid --secret %q: type must be file or env", s)
			}
		default:
			return "", sec, fmt.Errorf("invalid --secret %q: unknown key %q", s, k)
		}
	}
	if id == "" {
		return "", sec, fmt.Errorf("invalid --secret %q: id is required", s)
	}
	if sec.Src == "" && sec.Env == "" {
		sec.Env = id // buildx: a bare id reads the env variable of that name
		if _, ok := os.LookupEnv(id); !ok {
			sec.Env = ""
			sec.Src = id
		}
	}
	return id, sec, nil
}

// parseBytes reads sizes like 512m, 1g, 1048576.
func parseBytes(s string) (int64, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"kb", 1 << 10}, {"mb", 1 << 20}, {"gb", 1 << 30}, {"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"b", 1}} {
		if strings.HasSuffix(s, u.suf) {
			mult = u.m
			s = strings.TrimSuffix(s, u.suf)
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return int64(n * float64(mult)), nil
}

// parseMaxExtract reads --max-extract-size: "" is 0 (the free-space rule),
// "-1" no limit.
func parseMaxExtract(s string) (int64, error) {
	switch s {
	case "":
		return 0, nil
	case "-1":
		return -1, nil
	}
	n, err := parseBytes(s)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("invalid --max-extract-size %q: want a size such as 512m or 10g, or -1", s)
	}
	return n, nil
}
