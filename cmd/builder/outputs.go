package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/exporter"
	"github.com/builderdev/builder/snapshot"
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
		switch o.typ {
		case "oci", "docker", "tar", "local":
			if o.dest == "" {
				return nil, fmt.Errorf("invalid --output %q: dest is required for type=%s", s, o.typ)
			}
			if o.typ == "local" && o.dest == "-" {
				return nil, fmt.Errorf("invalid --output %q: type=local needs a directory", s)
			}
		case "":
			return nil, fmt.Errorf("invalid --output %q: type is required", s)
		default:
			return nil, fmt.Errorf("invalid --output %q: unknown type %q (want oci, docker, tar or local)", s, o.typ)
		}
		outs = append(outs, o)
	}
	return outs, nil
}

// write exports img as this output says.
func (o output) write(ctx context.Context, img v1.Image, tags []string, stdout io.Writer) error {
	if o.typ == "local" {
		return writeLocal(ctx, img, o.dest)
	}
	return writeTo(o.dest, stdout, func(w io.Writer) error {
		switch o.typ {
		case "oci":
			name := o.attrs["name"]
			if name == "" && len(tags) > 0 {
				name = tags[0]
			}
			return exporter.WriteOCI(ctx, w, img, name)
		case "docker":
			names := tags
			if n := o.attrs["name"]; n != "" {
				names = strings.Split(n, ",")
			}
			return exporter.WriteDocker(ctx, w, img, names)
		default:
			return exporter.WriteRootfsTar(ctx, w, img)
		}
	})
}

// writeTo runs fn on dest ("-" is stdout), writing a file atomically.
func writeTo(dest string, stdout io.Writer, fn func(io.Writer) error) error {
	if dest == "-" {
		return fn(stdout)
	}
	dir := filepath.Dir(dest)
	f, err := os.CreateTemp(dir, "."+filepath.Base(dest)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", dest, err)
	}
	defer os.Remove(f.Name())
	if err := fn(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", dest, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", dest, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", dest, err)
	}
	if err := os.Rename(f.Name(), dest); err != nil {
		return fmt.Errorf("write %s: %w", dest, err)
	}
	return nil
}

// writeLocal writes the image's root file system into dir.
func writeLocal(ctx context.Context, img v1.Image, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(exporter.WriteRootfsTar(ctx, pw, img))
	}()
	err := snapshot.Apply(ctx, dir, pr)
	pr.CloseWithError(err)
	if err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	return nil
}
