package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/pflag"

	"github.com/builderdev/builder/store"
)

// imagesOptions are the flags of `builder images`.
type imagesOptions struct {
	format string
}

func (o *imagesOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.format, "format", "table", "output format: table, or json (one JSON array, for scripts)")
}

func imagesCommand() command {
	o := &imagesOptions{}
	return command{name: "images", usage: "[flags]", summary: "List the images in the local store.", run: o.run, flags: o.AddFlags}
}

// imageRow is one image as `builder images --format json` prints it.
type imageRow struct {
	Repository string    `json:"repository"`
	Tag        string    `json:"tag"`
	Digest     string    `json:"digest"` // manifest digest
	Size       int64     `json:"size"`   // config plus compressed layers
	Created    time.Time `json:"created,omitzero"`
	// Platforms are those of a multi-platform index; none for an image.
	Platforms []string `json:"platforms,omitempty"`
	name      string   // as stored
	digest    v1.Hash
}

func (o *imagesOptions) run(ctx context.Context, g *globalOptions, args []string, s stdio) error {
	if len(args) != 0 {
		return &exitError{code: 2, err: errors.New(`"builder images" takes no arguments`)}
	}
	if o.format != "table" && o.format != "json" {
		return &exitError{code: 2, err: fmt.Errorf("invalid --format %q: want table or json", o.format)}
	}
	st, err := g.openStore()
	if err != nil {
		return err
	}
	imgs, err := st.Images(ctx)
	if err != nil {
		return err
	}
	rows := make([]imageRow, 0, len(imgs))
	for _, im := range imgs {
		repo, tag := splitTag(im.Name)
		rows = append(rows, imageRow{Repository: repo, Tag: tag, Digest: im.Digest.String(), Size: im.Size, Created: im.Created.UTC(), Platforms: im.Platforms, name: im.Name, digest: im.Digest})
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Repository != rows[j].Repository {
			return rows[i].Repository < rows[j].Repository
		}
		return rows[i].Tag < rows[j].Tag
	})
	if o.format == "json" {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			return fmt.Errorf("write images: %w", err)
		}
		return nil
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "TAG\tDIGEST\tSIZE\tCREATED\tPLATFORMS")
	for _, r := range rows {
		created := "-"
		if !r.Created.IsZero() {
			created = r.Created.Format(time.RFC3339)
		}
		platforms := "-"
		if len(r.Platforms) > 0 {
			platforms = strings.Join(r.Platforms, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.name, shortDigest(r.digest), humanSize(r.Size), created, platforms)
	}
	return tw.Flush()
}

// splitTag splits a stored name ("app:1", "host:5000/app:1", "app@sha256:...")
// into repository and tag ("<none>" when it has none).
func splitTag(n string) (repo, tag string) {
	if r, _, ok := strings.Cut(n, "@"); ok {
		return r, "<none>"
	}
	if i := strings.LastIndex(n, ":"); i > strings.LastIndex(n, "/") {
		return n[:i], n[i+1:]
	}
	return n, "<none>"
}

type rmOptions struct{}

func (o *rmOptions) AddFlags(*pflag.FlagSet) {}

func (o *rmOptions) run(ctx context.Context, g *globalOptions, args []string, s stdio) error {
	if len(args) == 0 {
		return &exitError{code: 2, err: errors.New(`"builder rm" requires at least 1 argument`)}
	}
	st, err := g.openStore()
	if err != nil {
		return err
	}
	var failed []string
	for _, t := range args {
		if err := st.Remove(ctx, tagName(t)); err != nil {
			fmt.Fprintf(s.err, "rm %s: %v\n", t, err)
			failed = append(failed, t)
			continue
		}
		fmt.Fprintf(s.out, "Untagged: %s\n", tagName(t))
	}
	if len(failed) > 0 {
		return fmt.Errorf("could not remove %s", strings.Join(failed, ", "))
	}
	return nil
}

// tagName is how a -t name is kept in the store ("app" is "app:latest");
// names that do not parse are kept as written and fail where used.
func tagName(t string) string {
	if n, err := store.NormalizeName(t); err == nil {
		return n
	}
	return t
}

func shortDigest(h v1.Hash) string {
	s := h.String()
	if len(s) > 19 {
		return s[:19]
	}
	return s
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2fGB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2fMB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.2fkB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}

func imageSize(img v1.Image) int64 {
	var total int64
	if m, err := img.Manifest(); err == nil {
		total += m.Config.Size
		for _, l := range m.Layers {
			total += l.Size
		}
	}
	return total
}
