package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/pflag"

	"github.com/builderdev/builder/cache"
)

// cacheOptions are the --cache-to / --cache-from flags of `builder build`.
type cacheOptions struct {
	to, from []string
}

func (o *cacheOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&o.to, "cache-to", nil,
		"export the build cache: type=registry,ref=REF[,mode=min|max] or type=local,dest=DIR[,mode=min|max] (repeatable)")
	fs.StringArrayVar(&o.from, "cache-from", nil,
		"import build cache: type=registry,ref=REF or type=local,src=DIR (repeatable; REF alone means type=registry)")
}

// cacheSpec is one parsed --cache-to or --cache-from value.
type cacheSpec struct {
	typ         string // "registry" or "local"
	ref         string // registry reference
	dir         string // local OCI layout directory
	tag         string // local: the artifact's tag in the layout ("" = latest)
	mode        string // export: "min" (default) or "max"
	ignoreError bool   // export: a failure is a warning
}

func (c cacheSpec) String() string {
	if c.typ == "registry" {
		return "registry " + c.ref
	}
	return "local " + c.dir
}

// parseCacheSpec parses a BuildKit-style cache option. export selects the
// --cache-to keys (dest, mode, ignore-error) over --cache-from's (src).
func parseCacheSpec(s string, export bool) (cacheSpec, error) {
	var c cacheSpec
	if !strings.Contains(s, "=") { // buildx: a bare value is a registry ref
		s = "type=registry,ref=" + s
	}
	flag := "--cache-from"
	if export {
		flag = "--cache-to"
	}
	for _, field := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(field), "=")
		if !ok || v == "" {
			return c, fmt.Errorf("%s %q: %q is not KEY=VALUE", flag, s, field)
		}
		switch k = strings.ToLower(k); {
		case k == "type":
			c.typ = v
		case k == "ref":
			c.ref = v
		case k == "dest" && export, k == "src" && !export:
			c.dir = v
		case k == "tag":
			c.tag = v
		case k == "mode" && export:
			if v != "min" && v != "max" {
				return c, fmt.Errorf("%s %q: mode must be min or max", flag, s)
			}
			c.mode = v
		case k == "ignore-error" && export:
			c.ignoreError = v == "true"
		case k == "oci-mediatypes" || k == "image-manifest":
			// The cache is always an OCI image manifest.
		default:
			return c, fmt.Errorf("%s %q: unknown option %q", flag, s, k)
		}
	}
	switch c.typ {
	case "registry":
		if c.ref == "" {
			return c, fmt.Errorf("%s %q: type=registry needs ref=", flag, s)
		}
	case "local":
		if c.dir == "" {
			key := "src"
			if export {
				key = "dest"
			}
			return c, fmt.Errorf("%s %q: type=local needs %s=", flag, s, key)
		}
	case "":
		return c, fmt.Errorf("%s %q: type= is missing", flag, s)
	default:
		return c, fmt.Errorf("%s %q: unsupported cache type %q (supported: registry, local)", flag, s, c.typ)
	}
	if export && c.mode == "" {
		c.mode = "min"
	}
	return c, nil
}

// parse validates every flag value; call it before the build starts.
func (o *cacheOptions) parse() (to, from []cacheSpec, err error) {
	for _, s := range o.to {
		c, err := parseCacheSpec(s, true)
		if err != nil {
			return nil, nil, err
		}
		to = append(to, c)
	}
	for _, s := range o.from {
		c, err := parseCacheSpec(s, false)
		if err != nil {
			return nil, nil, err
		}
		from = append(from, c)
	}
	return to, from, nil
}

// importCaches imports every --cache-from source into c before a build. As
// with BuildKit, a source that is missing or fails only costs cache hits:
// warn is told and the build goes on.
func (o *cacheOptions) importCaches(ctx context.Context, c *cache.Cache, warn func(string), ropts ...remote.Option) error {
	_, from, err := o.parse()
	if err != nil {
		return err
	}
	for _, spec := range from {
		var err error
		if spec.typ == "registry" {
			err = cache.ImportRegistry(ctx, c, spec.ref, ropts...)
		} else {
			err = cache.ImportLocal(ctx, c, spec.dir, spec.tag)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		switch {
		case errors.Is(err, cache.ErrNoCache):
			warn(fmt.Sprintf("cache import from %s: no cache there yet", spec))
		case err != nil:
			warn(fmt.Sprintf("cache import from %s failed: %v", spec, err))
		}
	}
	return nil
}

// exportCaches writes every --cache-to destination after a build: the
// records of finalKeys (the final image's steps) for mode=min, of allKeys
// (every step) for mode=max. A failure fails the build unless the
// destination says ignore-error=true.
func (o *cacheOptions) exportCaches(ctx context.Context, c *cache.Cache, finalKeys, allKeys []v1.Hash, warn func(string), ropts ...remote.Option) error {
	to, _, err := o.parse()
	if err != nil {
		return err
	}
	for _, spec := range to {
		keys := finalKeys
		if spec.mode == "max" {
			keys = allKeys
		}
		if spec.typ == "registry" {
			_, err = cache.ExportRegistry(ctx, c, keys, spec.ref, ropts...)
		} else {
			err = cache.ExportLocal(ctx, c, keys, spec.dir, spec.tag)
		}
		if err != nil {
			if spec.ignoreError && ctx.Err() == nil {
				warn(fmt.Sprintf("cache export to %s failed (ignored): %v", spec, err))
				continue
			}
			return fmt.Errorf("cache export to %s: %w", spec, err)
		}
	}
	return nil
}
