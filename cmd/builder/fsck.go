package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"
)

// fsckOptions are the flags of `builder fsck`.
type fsckOptions struct {
	repair bool
}

func (o *fsckOptions) AddFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&o.repair, "repair", false, "drop what is broken (damaged blobs, tags whose image is incomplete, cache records without their layer, orphaned extractions); never what a healthy image uses")
}

func fsckCommand() command {
	o := &fsckOptions{}
	return command{name: "fsck", usage: "[--repair]", summary: "Check the store: tags, blobs, cache records, extracted layers.", run: o.run, flags: o.AddFlags}
}

func (o *fsckOptions) run(ctx context.Context, g *globalOptions, args []string, s stdio) error {
	if len(args) != 0 {
		return &exitError{code: 2, err: errors.New(`"builder fsck" takes no arguments`)}
	}
	_, c, err := g.openCache()
	if err != nil {
		return err
	}
	rep, err := c.Fsck(ctx, o.repair)
	if err != nil {
		return err
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(s.out, p)
	}
	repaired := 0
	for _, p := range rep.Problems {
		if p.Repaired {
			repaired++
		}
	}
	fmt.Fprintf(s.out, "checked %d tags, %d blobs, %d extracted layers: %d problems, %d repaired\n",
		rep.Tags, rep.Blobs, rep.Layers, len(rep.Problems), repaired)
	if len(rep.Problems) > repaired {
		return &exitError{code: 1, err: fmt.Errorf("fsck: %d problems (run builder fsck --repair to drop what is broken)", len(rep.Problems)-repaired)}
	}
	return nil
}
