package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/pflag"

	"github.com/builderdev/builder/internal/imagesize"
)

// historyOptions are the flags of `builder history`.
type historyOptions struct {
	format  string
	noTrunc bool
}

func (o *historyOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.format, "format", "table", "output format: table, or json (one JSON array, times absolute)")
	fs.BoolVar(&o.noTrunc, "no-trunc", false, "do not truncate the instructions")
}

func historyCommand() command {
	o := &historyOptions{}
	return command{name: "history", usage: "[flags] IMAGE", summary: "Show the history of an image, newest first.", run: o.run, flags: o.AddFlags}
}

// historyRow is one history entry as `builder history --format json`
// prints it.
type historyRow struct {
	ID         string    `json:"id"` // the image ID on the newest row, else <missing> (as docker)
	Created    time.Time `json:"created,omitzero"`
	CreatedBy  string    `json:"created_by"`
	Size       int64     `json:"size"` // the layer's files, uncompressed; 0 for an empty layer
	EmptyLayer bool      `json:"empty_layer"`
	Layer      string    `json:"layer,omitempty"` // the layer's digest
	Comment    string    `json:"comment,omitempty"`
}

func (o *historyOptions) run(ctx context.Context, g *globalOptions, args []string, s stdio) error {
	if len(args) != 1 {
		return &exitError{code: 2, err: errors.New(`"builder history" requires exactly 1 argument: the image`)}
	}
	if o.format != "table" && o.format != "json" {
		return &exitError{code: 2, err: fmt.Errorf("invalid --format %q: want table or json", o.format)}
	}
	st, err := g.openStore()
	if err != nil {
		return err
	}
	img, err := st.Image(ctx, tagName(args[0]))
	if err != nil {
		return err
	}
	rows, err := historyRows(ctx, img)
	if err != nil {
		return err
	}
	if o.format == "json" {
		enc := json.NewEncoder(s.out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rows); err != nil {
			return fmt.Errorf("write history: %w", err)
		}
		return nil
	}
	return writeHistory(s.out, rows, time.Now(), !o.noTrunc)
}

// historyRows gives one row per history entry of img, newest first. The
// entries that are not empty layers take the image's layers in order.
func historyRows(ctx context.Context, img v1.Image) ([]historyRow, error) {
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("list layers: %w", err)
	}
	id, err := img.ConfigName()
	if err != nil {
		return nil, fmt.Errorf("read config digest: %w", err)
	}
	rows := make([]historyRow, 0, len(cfg.History))
	next := 0
	for _, h := range cfg.History {
		r := historyRow{ID: "<missing>", CreatedBy: h.CreatedBy, EmptyLayer: h.EmptyLayer, Comment: h.Comment}
		if !h.Created.IsZero() {
			r.Created = h.Created.UTC()
		}
		if !h.EmptyLayer && next < len(layers) {
			l := layers[next]
			next++
			if r.Size, err = imagesize.ContentSize(ctx, l); err != nil {
				return nil, fmt.Errorf("read layer %d: %w", next, err)
			}
			if d, err := l.Digest(); err == nil {
				r.Layer = d.String()
			}
		}
		rows = append(rows, r)
	}
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	if len(rows) > 0 {
		rows[0].ID = id.String()
	}
	return rows, nil
}

// writeHistory prints rows as docker history does: IMAGE, CREATED (relative
// to now), CREATED BY (45 columns when trunc), SIZE, COMMENT.
func writeHistory(w io.Writer, rows []historyRow, now time.Time, trunc bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "IMAGE\tCREATED\tCREATED BY\tSIZE\tCOMMENT")
	for _, r := range rows {
		id := r.ID
		if trunc && strings.HasPrefix(id, "sha256:") {
			id = strings.TrimPrefix(id, "sha256:")[:12]
		}
		created := "N/A"
		if !r.Created.IsZero() {
			created = humanDuration(now.Sub(r.Created)) + " ago"
		}
		by := strings.NewReplacer("\t", " ", "\n", " ").Replace(r.CreatedBy)
		if trunc {
			by = ellipsis(by, 45)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id, created, by, dockerSize(r.Size), r.Comment)
	}
	return tw.Flush()
}

// ellipsis cuts s to n runes, the last one "…".
func ellipsis(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// dockerSize is a size as docker prints one: 3 significant digits, powers
// of 1000 ("0B", "999B", "1.23kB", "12.3MB").
func dockerSize(n int64) string {
	units := []string{"B", "kB", "MB", "GB", "TB", "PB"}
	f, i := float64(n), 0
	for f >= 1000 && i < len(units)-1 {
		f /= 1000
		i++
	}
	return fmt.Sprintf("%.3g%s", f, units[i])
}

// humanDuration says how long d is the way docker does ("2 hours",
// "About a minute", "3 weeks").
func humanDuration(d time.Duration) string {
	if s := int(d.Seconds()); s < 1 {
		return "Less than a second"
	} else if s == 1 {
		return "1 second"
	} else if s < 60 {
		return fmt.Sprintf("%d seconds", s)
	}
	if m := int(d.Minutes()); m == 1 {
		return "About a minute"
	} else if m < 60 {
		return fmt.Sprintf("%d minutes", m)
	}
	h := int(d.Hours() + 0.5)
	switch {
	case h == 1:
		return "About an hour"
	case h < 48:
		return fmt.Sprintf("%d hours", h)
	case h < 24*7*2:
		return fmt.Sprintf("%d days", h/24)
	case h < 24*30*2:
		return fmt.Sprintf("%d weeks", h/24/7)
	case h < 24*365*2:
		return fmt.Sprintf("%d months", h/24/30)
	}
	return fmt.Sprintf("%d years", int(d.Hours())/24/365)
}
