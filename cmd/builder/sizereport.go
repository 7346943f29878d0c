package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/builderdev/builder/internal/imagesize"
)

// writeSizeReport prints where the bytes of an image went: a table of its
// layers (instruction, size, wasted), then each layer's largest files and
// what it wastes, then the totals and dive's efficiency score.
func writeSizeReport(w io.Writer, rep *imagesize.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tSIZE\tWASTED\tCREATED BY")
	for i, l := range rep.Layers {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", i+1, humanSize(l.Size), humanSize(l.Wasted), ellipsis(oneLine(l.CreatedBy), 60))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write size report: %w", err)
	}
	for i, l := range rep.Layers {
		entries := fmt.Sprintf("%d entries", l.Files)
		if l.Files == 1 {
			entries = "1 entry"
		}
		fmt.Fprintf(w, "\nlayer %d/%d %s: %s (blob %s), %s\n", i+1, len(rep.Layers), shortLayer(l.Digest),
			humanSize(l.Size), humanSize(l.BlobSize), entries)
		if l.CreatedBy != "" {
			fmt.Fprintf(w, "  %s\n", oneLine(l.CreatedBy))
		}
		if l.Replaced > 0 {
			fmt.Fprintf(w, "  wasted %s: overwritten or deleted by a later layer\n", humanSize(l.Replaced))
		}
		for _, c := range l.Caches {
			fmt.Fprintf(w, "  wasted %s: package cache left in %s\n", humanSize(c.Size), c.Path)
		}
		if len(l.Largest) > 0 {
			fmt.Fprintf(w, "  largest files:\n")
			ftw := tabwriter.NewWriter(w, 0, 4, 0, ' ', tabwriter.AlignRight)
			for _, f := range l.Largest {
				fmt.Fprintf(ftw, "    %s\t  %s\n", humanSize(f.Size), f.Path)
			}
			if err := ftw.Flush(); err != nil {
				return fmt.Errorf("write size report: %w", err)
			}
		}
	}
	_, err := fmt.Fprintf(w, "\n%d layers, %s of files, %s in the final filesystem, %s wasted, efficiency %.1f%% (dive's score)\n",
		len(rep.Layers), humanSize(rep.Size), humanSize(rep.FinalSize), humanSize(rep.Wasted), 100*rep.Efficiency)
	if err != nil {
		return fmt.Errorf("write size report: %w", err)
	}
	return nil
}

// oneLine puts a multi-line instruction (a heredoc) on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// shortLayer is "sha256:" and 12 hex digits of a layer digest.
func shortLayer(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}
