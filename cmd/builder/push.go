package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/pflag"

	"github.com/builderdev/builder/exporter"
	"github.com/builderdev/builder/registry"
	"github.com/builderdev/builder/store"
)

// registryOptions are the flags that say how to reach registries; build
// (--push, type=image,push=true) and push share them.
type registryOptions struct {
	insecure  []string
	certsDir  string
	jobs      int
	retries   retriesValue
	retryWait time.Duration
}

func (o *registryOptions) AddFlags(fs *pflag.FlagSet) {
	o.addConnFlags(fs)
	fs.IntVar(&o.jobs, "push-jobs", 4, "blobs uploaded at once")
}

// addConnFlags adds the flags about reaching a registry, without the push
// ones (for login).
func (o *registryOptions) addConnFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.insecure, "insecure-registry", nil,
		"allow plain http and unverified TLS for this registry HOST[:PORT] (repeatable; loopback always may use http)")
	fs.StringVar(&o.certsDir, "registry-certs", registry.DefaultCertsDir,
		"per-registry certificates: DIR/HOST[:PORT]/ca.crt (extra CAs), client.cert + client.key")
	o.retries = registry.DefaultTries
	fs.Var(&o.retries, "registry-retries",
		"tries of each registry request (pull, push, cache, token) on resets, timeouts, 429 and 5xx, all within 2 minutes")
	fs.DurationVar(&o.retryWait, "registry-retry-wait", registry.DefaultRetryWait,
		"wait after the first failed registry request, doubled after each further one (a longer Retry-After wins)")
}

// retriesValue is --registry-retries: a number of tries, at least 1.
type retriesValue int

func (v *retriesValue) String() string { return strconv.Itoa(int(*v)) }
func (v *retriesValue) Type() string   { return "int" }

func (v *retriesValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return fmt.Errorf("want a number of tries of at least 1, got %q", s)
	}
	*v = retriesValue(n)
	return nil
}

// exporterOptions turns the flags into registry options.
func (o *registryOptions) exporterOptions() []registry.Option {
	return []registry.Option{
		registry.WithInsecureRegistries(o.insecure...),
		registry.WithCertsDir(o.certsDir),
		registry.WithJobs(o.jobs),
		registry.WithRetry(int(o.retries), o.retryWait),
	}
}

// pushed is one finished push: the ref, the manifest digest the registry
// has and the manifest's size.
type pushed struct {
	ref    string
	digest v1.Hash
	size   int64
}

// pusher returns the Pusher of these flags; report, if not nil, hears of
// each push as it finishes.
func (o *registryOptions) pusher(report func(pushed)) *exporter.Pusher {
	opts := []exporter.PushOption{exporter.WithRegistryOptions(o.exporterOptions()...)}
	if report != nil {
		opts = append(opts, exporter.WithPushReport(func(p exporter.Pushed) {
			report(pushed{ref: p.Ref, digest: p.Digest, size: p.Size})
		}))
	}
	return exporter.NewPusher(opts...)
}

// pushTarget is one push of a build: where to, and the output's
// conversion options (nil for --push, which pushes the image as stored).
type pushTarget struct {
	refs []string
	conv []exporter.Option
}

// pushTargets lists a build's pushes: --push to the -t tags, then every
// type=image,push=true and type=registry output with its compression=,
// compression-level=, force-compression= and oci-mediatypes= options.
func pushTargets(push bool, tags []string, outs []output) ([]pushTarget, error) {
	var ts []pushTarget
	if push && len(tags) > 0 {
		ts = append(ts, pushTarget{refs: tags})
	}
	for _, out := range outs {
		refs := out.pushRefs(tags)
		if len(refs) == 0 {
			continue
		}
		conv, err := out.exportOptions("")
		if err != nil {
			return nil, err
		}
		ts = append(ts, pushTarget{refs: refs, conv: conv})
	}
	if push && len(ts) == 0 {
		return nil, errors.New("--push needs at least one -t name")
	}
	return ts, nil
}

// pushExporters maps the targets to exporters of p, in order: one
// Pusher for all, so that later pushes mount the blobs of earlier ones and
// a failed push says which refs of all targets were pushed and which not.
// A target that converts layers keeps (and reuses) them in st.
func pushExporters(p *exporter.Pusher, st *store.Store, targets []pushTarget) []exporter.Exporter {
	var exps []exporter.Exporter
	for _, t := range targets {
		conv := t.conv
		if len(conv) > 0 && st != nil {
			conv = append(append([]exporter.Option{}, conv...), exporter.WithTempDir(st.TmpDir()), exporter.WithStore(st))
		}
		exps = append(exps, p.Exporter(t.refs, conv...))
	}
	return exps
}

// pushOptions are the flags of `builder push`.
type pushOptions struct {
	reg          registryOptions
	digestFile   string
	metadataFile string
	quiet        bool
}

func (o *pushOptions) AddFlags(fs *pflag.FlagSet) {
	o.reg.AddFlags(fs)
	fs.StringVar(&o.digestFile, "digest-file", "", "write the pushed manifest digest to this file")
	fs.StringVar(&o.metadataFile, "metadata-file", "", "write push metadata (JSON) to this file")
	fs.BoolVarP(&o.quiet, "quiet", "q", false, "print only the digest")
}

func pushCommand() command {
	o := &pushOptions{}
	return command{
		name:    "push",
		usage:   "[flags] TAG [REF]",
		summary: "Push an image of the local store to a registry (REF defaults to TAG).",
		run:     o.run,
		flags:   o.AddFlags,
	}
}

func (o *pushOptions) run(ctx context.Context, g *globalOptions, args []string, s stdio) error {
	if len(args) < 1 || len(args) > 2 {
		return &exitError{code: 2, err: errors.New(`"builder push" requires 1 or 2 arguments: TAG [REF]`)}
	}
	ref := args[0]
	if len(args) == 2 {
		ref = args[1]
	}
	if _, err := name.ParseReference(ref); err != nil {
		return &exitError{code: 2, err: fmt.Errorf("invalid reference %q: %w", ref, err)}
	}
	st, err := g.openStore()
	if err != nil {
		return err
	}
	imgs, err := storedPlatforms(ctx, st, tagName(args[0]))
	if err != nil {
		return fmt.Errorf("push %s: %w", args[0], err)
	}
	var report func(pushed)
	if !o.quiet {
		// The same line as build --push shows for each push.
		report = func(p pushed) {
			fmt.Fprintln(s.out, pushLine(pushEvent{Ref: p.ref, Digest: p.digest.String(), Size: p.size}))
		}
	}
	var ps []exporter.Pushed
	if imgs[0].Platform.OS == "" { // one image
		ps, err = o.reg.pusher(report).Push(ctx, imgs[0].Image, []string{ref})
	} else {
		ps, err = o.reg.pusher(report).PushPlatforms(ctx, imgs, []string{ref})
	}
	if err != nil {
		return err
	}
	digest := ps[0].Digest
	if err := writePushFiles(o.digestFile, o.metadataFile, digest, []string{ref}, nil); err != nil {
		return err
	}
	if o.quiet {
		fmt.Fprintln(s.out, digest)
		return nil
	}
	return nil
}

// writePushFiles writes --digest-file (the digest alone) and
// --metadata-file (containerimage.digest and image.name, merged over md).
func writePushFiles(digestFile, metadataFile string, digest v1.Hash, refs []string, md map[string]any) error {
	if digestFile != "" {
		if err := os.WriteFile(digestFile, []byte(digest.String()), 0o644); err != nil {
			return fmt.Errorf("write digest file: %w", err)
		}
	}
	if metadataFile == "" {
		return nil
	}
	out := map[string]any{}
	for k, v := range md {
		out[k] = v
	}
	out["containerimage.digest"] = digest.String()
	if len(refs) > 0 {
		out["image.name"] = strings.Join(refs, ",")
	}
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return fmt.Errorf("write metadata file: %w", err)
	}
	if err := os.WriteFile(metadataFile, data, 0o644); err != nil {
		return fmt.Errorf("write metadata file: %w", err)
	}
	return nil
}

// pushRefs returns where an output pushes: for type=image,push=true and
// type=registry (buildx's alias) its name= (comma-separated) or else the
// -t tags; nil for every other output.
func (o output) pushRefs(tags []string) []string {
	switch o.typ {
	case "registry":
	case "image":
		if b, _ := strconv.ParseBool(o.attrs["push"]); !b {
			return nil
		}
	default:
		return nil
	}
	if n := o.attrs["name"]; n != "" {
		return strings.Split(n, ",")
	}
	return tags
}

// storedPlatforms returns the image a tag names (one entry, no platform),
// or the images of the multi-platform index it names.
func storedPlatforms(ctx context.Context, st *store.Store, name string) ([]exporter.PlatformImage, error) {
	im, err := st.IndexManifest(ctx, name)
	if errors.Is(err, store.ErrNotIndex) {
		img, err := st.Image(ctx, name)
		if err != nil {
			return nil, err
		}
		return []exporter.PlatformImage{{Image: img}}, nil
	}
	if err != nil {
		return nil, err
	}
	var out []exporter.PlatformImage
	for _, d := range im.Manifests {
		if d.Platform == nil {
			continue
		}
		img, err := st.Image(ctx, d.Digest.String())
		if err != nil {
			return nil, err
		}
		out = append(out, exporter.PlatformImage{Platform: *d.Platform, Image: img})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("index %s has no platform images", name)
	}
	return out, nil
}
