package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/builderdev/builder/exporter"
	"github.com/builderdev/builder/store"
)

// output is one -o/--output.
type output struct {
	typ   string
	dest  string
	attrs map[string]string
}

// parseOutputs reads buildx-style output specs: "type=oci,dest=out.tar",
// or a bare path meaning type=local.
func parseOutputs(specs []string) ([]output, error) {
	var outs []output
	for _, s := range specs {
		if !strings.Contains(s, "=") {
			if s == "-" {
				outs = append(outs, output{typ: "tar", dest: "-"})
			} else {
				outs = append(outs, output{typ: "local", dest: s})
			}
			continue
		}
		fields, err := csv.NewReader(strings.NewReader(s)).Read()
		if err != nil {
			return nil, fmt.Errorf("invalid --output %q: %w", s, err)
		}
		o := output{attrs: map[string]string{}}
		for _, f := range fields {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				return nil, fmt.Errorf("invalid --output %q: %q is not KEY=VALUE", s, f)
			}
			switch strings.ToLower(k) {
			case "type":
				o.typ = v
			case "dest":
				o.dest = v
			default:
				o.attrs[strings.ToLower(k)] = v
			}
		}
		if _, err := o.exportOptions(""); err != nil {
			return nil, fmt.Errorf("invalid --output %q: %w", s, err)
		}
		switch o.typ {
		case "oci", "docker", "tar", "local":
			if o.dest == "" {
				return nil, fmt.Errorf("invalid --output %q: dest is required for type=%s", s, o.typ)
			}
			if o.typ == "local" && o.dest == "-" {
				return nil, fmt.Errorf("invalid --output %q: type=local needs a directory", s)
			}
		case "image", "registry": // pushed by the caller, see pushRefs
		case "":
			return nil, fmt.Errorf("invalid --output %q: type is required", s)
		default:
			return nil, fmt.Errorf("invalid --output %q: unknown type %q (want oci, docker, tar, local, image or registry)", s, o.typ)
		}
		outs = append(outs, o)
	}
	return outs, nil
}

// exportOptions turns compression=, compression-level=, force-compression=
// and oci-mediatypes= into exporter options.
func (o output) exportOptions(tmpDir string) ([]exporter.Option, error) {
	opts := []exporter.Option{exporter.WithTempDir(tmpDir)}
	if c, ok := o.attrs["compression"]; ok {
		level := 0
		if l, ok := o.attrs["compression-level"]; ok {
			n, err := strconv.Atoi(l)
			if err != nil {
				return nil, fmt.Errorf("invalid compression-level %q", l)
			}
			level = n
		}
		switch exporter.Compression(c) {
		case exporter.Gzip, exporter.Zstd, exporter.Uncompressed:
		default:
			return nil, fmt.Errorf("invalid compression %q (want gzip, zstd or uncompressed)", c)
		}
		opts = append(opts, exporter.WithCompression(exporter.Compression(c), level))
	}
	for _, k := range []string{"force-compression", "oci-mediatypes", "rewrite-timestamp"} {
		v, ok := o.attrs[k]
		if !ok {
			continue
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("invalid %s=%q", k, v)
		}
		switch k {
		case "force-compression":
			if b {
				opts = append(opts, exporter.WithForceCompression())
			}
		case "oci-mediatypes":
			opts = append(opts, exporter.WithOCIMediaTypes(b))
		}
	}
	return opts, nil
}

// rewriteTimestamp reports whether any output asks for clamped mtimes.
func rewriteTimestamp(outs []output) bool {
	for _, o := range outs {
		if b, _ := strconv.ParseBool(o.attrs["rewrite-timestamp"]); b {
			return true
		}
	}
	return false
}

// exporter maps the output to its exporter, writing dest=- to stdout and
// keeping recompressed layers in st (if not nil) so that the next export
// of the same layers reuses them. Pushes (type=image, type=registry) have
// none here: pushExporters makes theirs.
func (o output) exporter(tags []string, stdout io.Writer, st *store.Store) (exporter.Exporter, error) {
	if o.typ == "image" || o.typ == "registry" {
		return nil, nil
	}
	if o.typ == "local" {
		return exporter.NewLocalDir(o.dest), nil
	}
	tmpDir := ""
	if st != nil {
		tmpDir = st.TmpDir()
	}
	opts, err := o.exportOptions(tmpDir)
	if err != nil {
		return nil, err
	}
	if st != nil {
		opts = append(opts, exporter.WithStore(st))
	}
	dest := exporter.File(o.dest)
	if o.dest == "-" {
		dest = exporter.Stream(stdout)
	}
	switch o.typ {
	case "oci":
		name := o.attrs["name"]
		if name == "" && len(tags) > 0 {
			name = tags[0]
		}
		return exporter.NewOCITar(dest, name, opts...), nil
	case "docker":
		names := tags
		if n := o.attrs["name"]; n != "" {
			names = strings.Split(n, ",")
		}
		return exporter.NewDockerTar(dest, names, opts...), nil
	default:
		return exporter.NewRootfsTar(dest), nil
	}
}

// outputExporters maps every output that writes files to its exporter,
// in order.
func outputExporters(outs []output, tags []string, stdout io.Writer, st *store.Store) ([]exporter.Exporter, error) {
	var exps []exporter.Exporter
	for _, o := range outs {
		e, err := o.exporter(tags, stdout, st)
		if err != nil {
			return nil, err
		}
		if e != nil {
			exps = append(exps, e)
		}
	}
	return exps, nil
}
