package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/builderdev/builder/internal/imagesize"
)

// inspectOptions are the flags of `builder inspect`.
type inspectOptions struct {
	size   bool
	format string
}

func (o *inspectOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.size, "size", false, "report where the bytes went: per layer its instruction, size, wasted bytes and largest files; dive's efficiency score")
	fs.StringVar(&o.format, "format", "", "output format of --size: table (default) or json; without --size the output is always JSON")
}

func inspectCommand() command {
	o := &inspectOptions{}
	return command{name: "inspect", usage: "[flags] IMAGE", summary: "Show an image's digests and config, or with --size where its bytes went.", run: o.run, flags: o.AddFlags}
}

// inspectInfo is what `builder inspect` prints without --size.
type inspectInfo struct {
	Name         string          `json:"name"`
	Digest       string          `json:"digest"`        // manifest
	ConfigDigest string          `json:"config_digest"` // the image ID
	Size         int64           `json:"size"`          // config plus compressed layers
	Layers       []string        `json:"layers"`        // digests
	Config       json.RawMessage `json:"config"`
}

// sizeInfo is what `builder inspect --size --format json` prints.
type sizeInfo struct {
	Name   string `json:"name"`
	Digest string `json:"digest"`
	*imagesize.Report
}

func (o *inspectOptions) run(ctx context.Context, g *globalOptions, args []string, s stdio) error {
	if len(args) != 1 {
		return &exitError{code: 2, err: errors.New(`"builder inspect" requires exactly 1 argument: the image`)}
	}
	switch {
	case o.format != "" && !o.size:
		return &exitError{code: 2, err: errors.New("invalid --format: it applies to --size only")}
	case o.format != "" && o.format != "table" && o.format != "json":
		return &exitError{code: 2, err: fmt.Errorf("invalid --format %q: want table or json", o.format)}
	}
	st, err := g.openStore()
	if err != nil {
		return err
	}
	name := tagName(args[0])
	img, err := st.Image(ctx, name)
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("read manifest digest: %w", err)
	}
	enc := json.NewEncoder(s.out)
	enc.SetIndent("", "  ")
	if o.size {
		rep, err := imagesize.Analyze(ctx, img)
		if err != nil {
			return fmt.Errorf("analyze %s: %w", args[0], err)
		}
		if o.format == "json" {
			if err := enc.Encode(sizeInfo{Name: name, Digest: digest.String(), Report: rep}); err != nil {
				return fmt.Errorf("write size report: %w", err)
			}
			return nil
		}
		return writeSizeReport(s.out, rep)
	}
	m, err := img.Manifest()
	if err != nil {
		return fmt.Errorf("read manifest: %w", err)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("read config: %w", err)
	}
	info := inspectInfo{Name: name, Digest: digest.String(), ConfigDigest: m.Config.Digest.String(), Size: imageSize(img), Layers: []string{}, Config: raw}
	for _, l := range m.Layers {
		info.Layers = append(info.Layers, l.Digest.String())
	}
	if err := enc.Encode(info); err != nil {
		return fmt.Errorf("write inspect: %w", err)
	}
	return nil
}
