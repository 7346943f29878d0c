package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"

	"github.com/builderdev/builder/cache"
)

// pruneOptions are the flags of `builder prune`.
type pruneOptions struct {
	all         bool
	keepStorage string
	filters     []string
	force       bool
}

func (o *pruneOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVarP(&o.all, "all", "a", false, "remove all unused build cache, not just what no image uses (and RUN cache mounts)")
	fs.StringVar(&o.keepStorage, "keep-storage", "", "stop once the cache takes at most this much space (e.g. 10gb)")
	fs.StringArrayVar(&o.filters, "filter", nil, "filter: until=DURATION (e.g. until=24h) removes only what was unused that long")
	fs.BoolVarP(&o.force, "force", "f", false, "do not ask for confirmation")
}

func pruneCommand() command {
	o := &pruneOptions{}
	return command{name: "prune", usage: "[flags]", summary: "Remove unused build cache, blobs and extracted layers.", run: o.run, flags: o.AddFlags}
}

// options turns the flags into cache.PruneOptions.
func (o *pruneOptions) options(now time.Time) (cache.PruneOptions, error) {
	opts := cache.PruneOptions{All: o.all}
	if o.keepStorage != "" {
		n, err := parseBytes(o.keepStorage)
		if err != nil {
			return opts, fmt.Errorf("--keep-storage: %w", err)
		}
		opts.KeepStorage = n
	}
	for _, f := range o.filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return opts, fmt.Errorf("--filter %q: want KEY=VALUE", f)
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "until", "unused-for":
			d, err := parseUntil(strings.TrimSpace(v), now)
			if err != nil {
				return opts, fmt.Errorf("--filter %q: %w", f, err)
			}
			opts.Until = d
		default:
			return opts, fmt.Errorf("--filter %q: unknown filter (supported: until)", f)
		}
	}
	return opts, nil
}

// parseUntil takes a Go duration ("24h", "90m") or a timestamp (RFC 3339,
// a date, or Unix seconds) and returns the age it means.
func parseUntil(v string, now time.Time) (time.Duration, error) {
	if d, err := time.ParseDuration(v); err == nil {
		if d < 0 {
			return 0, errors.New("negative duration")
		}
		return d, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return max(now.Sub(t), 0), nil
		}
	}
	var secs int64
	if _, err := fmt.Sscanf(v, "%d", &secs); err == nil && fmt.Sprint(secs) == v {
		return max(now.Sub(time.Unix(secs, 0)), 0), nil
	}
	return 0, fmt.Errorf("bad duration or time %q", v)
}

func (o *pruneOptions) run(ctx context.Context, g *globalOptions, args []string, s stdio) error {
	if len(args) != 0 {
		return &exitError{code: 2, err: errors.New(`"builder prune" takes no arguments`)}
	}
	opts, err := o.options(time.Now())
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if !o.force {
		what := "all dangling build cache"
		if o.all {
			what = "all build cache"
		}
		fmt.Fprintf(s.out, "WARNING! This will remove %s. Are you sure you want to continue? [y/N] ", what)
		if !confirmed(s) {
			return &exitError{code: 1, err: errors.New("prune cancelled")}
		}
	}
	_, c, err := g.openCache()
	if err != nil {
		return err
	}
	rep, err := c.Prune(ctx, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.out, "Deleted: %d cache records, %d blobs, %d extracted layers, %d cache mounts\n",
		rep.Records, rep.Blobs, rep.Layers, rep.CacheMounts)
	fmt.Fprintf(s.out, "Total reclaimed space: %s\n", humanSize(rep.Freed))
	return nil
}

// confirmed reads a yes/no answer from stdin.
func confirmed(s stdio) bool {
	if s.in == nil {
		return false
	}
	line, _ := bufio.NewReader(s.in).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

// duOptions are the flags of `builder du`.
type duOptions struct{ verbose bool }

func (o *duOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVarP(&o.verbose, "verbose", "v", false, "list every cache record")
}

func duCommand() command {
	o := &duOptions{}
	return command{name: "du", usage: "[flags]", summary: "Show the disk space the store and build cache use.", run: o.run, flags: o.AddFlags}
}

func (o *duOptions) run(ctx context.Context, g *globalOptions, args []string, s stdio) error {
	if len(args) != 0 {
		return &exitError{code: 2, err: errors.New(`"builder du" takes no arguments`)}
	}
	_, c, err := g.openCache()
	if err != nil {
		return err
	}
	u, err := c.DiskUsage(ctx)
	if err != nil {
		return err
	}
	if o.verbose && len(u.Entries) > 0 {
		tw := tabwriter.NewWriter(s.out, 0, 4, 3, ' ', 0)
		fmt.Fprintln(tw, "ID\tSIZE\tLAST USED\tSHARED\tIN USE\tDESCRIPTION")
		for i := len(u.Entries) - 1; i >= 0; i-- { // most recently used first
			e := u.Entries[i]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%t\t%s\n", shortDigest(e.Key), humanSize(e.Size),
				e.LastUsed.UTC().Format(time.RFC3339), e.Shared, e.InUse, e.Description)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(s.out)
	}
	tw := tabwriter.NewWriter(s.out, 0, 4, 3, ' ', 0)
	for _, row := range []struct {
		name string
		n    int64
	}{
		{"Cache records:", u.Records}, {"Blobs:", u.Blobs}, {"Extracted layers:", u.Layers},
		{"Cache mounts:", u.CacheMounts}, {"Temporary:", u.Tmp}, {"Total:", u.Total()},
		// What `builder prune` frees, then what `builder prune --all` does.
		{"Reclaimable:", u.ReclaimableDangling}, {"Reclaimable with --all:", u.Reclaimable},
	} {
		fmt.Fprintf(tw, "%s\t%s\n", row.name, humanSize(row.n))
	}
	return tw.Flush()
}
