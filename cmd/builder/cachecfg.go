package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/builderdev/builder/build"
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

// parseCacheSpec parses a BuildKit-style cache option. export selects the
// --cache-to keys (dest, mode, ignore-error) over --cache-from's (src).
func parseCacheSpec(s string, export bool) (build.CacheSpec, error) {
	var c build.CacheSpec
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
			c.Type = v
		case k == "ref":
			c.Ref = v
		case k == "dest" && export, k == "src" && !export:
			c.Dir = v
		case k == "tag":
			c.Tag = v
		case k == "mode" && export:
			if v != "min" && v != "max" {
				return c, fmt.Errorf("%s %q: mode must be min or max", flag, s)
			}
			c.Mode = v
		case k == "ignore-error" && export:
			c.IgnoreError = v == "true"
		case k == "oci-mediatypes" || k == "image-manifest":
			// The cache is always an OCI image manifest.
		default:
			return c, fmt.Errorf("%s %q: unknown option %q", flag, s, k)
		}
	}
	switch c.Type {
	case "registry":
		if c.Ref == "" {
			return c, fmt.Errorf("%s %q: type=registry needs ref=", flag, s)
		}
	case "local":
		if c.Dir == "" {
			key := "src"
			if export {
				key = "dest"
			}
			return c, fmt.Errorf("%s %q: type=local needs %s=", flag, s, key)
		}
	case "":
		return c, fmt.Errorf("%s %q: type= is missing", flag, s)
	default:
		return c, fmt.Errorf("%s %q: unsupported cache type %q (supported: registry, local)", flag, s, c.Type)
	}
	if export && c.Mode == "" {
		c.Mode = "min"
	}
	return c, nil
}

// parse validates every flag value; call it before the build starts.
func (o *cacheOptions) parse() (to, from []build.CacheSpec, err error) {
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
