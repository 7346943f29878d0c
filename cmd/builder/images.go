package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/pflag"

	"github.com/builderdev/builder/store"
)

func runImages(ctx context.Context, g *globalOptions, args []string, s stdio) error {
	if len(args) != 0 {
		return &exitError{code: 2, err: errors.New(`"builder images" takes no arguments`)}
	}
	st, err := g.openStore()
	if err != nil {
		return err
	}
	imgs, err := st.Images(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "TAG\tDIGEST\tSIZE\tCREATED")
	for _, im := range imgs {
		created := "-"
		if !im.Created.IsZero() {
			created = im.Created.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", im.Name, shortDigest(im.Digest), humanSize(im.Size), created)
	}
	return tw.Flush()
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
