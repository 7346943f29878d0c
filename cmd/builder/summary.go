package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/internal/imagesize"
	"github.com/builderdev/builder/store"
)

// maxHints is how many `builder check` hints the summary shows.
const maxHints = 3

// buildSummary is what the line at the end of a build says.
type buildSummary struct {
	digest, config v1.Hash
	platforms      []string // of a multi-platform build: digest is its index
	size           int64    // config plus compressed layers
	ran, cached    int      // steps
	layers, reused int      // the image's layers, and those already in the store before the build
	elapsed        time.Duration
}

// printSummary prints the line at the end of every build, then at most
// maxHints hints (one line each: `builder check` findings).
func printSummary(w io.Writer, s buildSummary, hints []string) {
	what := fmt.Sprintf("image %s (config %s)", s.digest, s.config)
	if len(s.platforms) > 0 {
		what = fmt.Sprintf("index %s (%s)", s.digest, strings.Join(s.platforms, ", "))
	}
	fmt.Fprintf(w, "%s, %s, %s run, %s cached, %s (%d reused, %d new), %.1fs\n",
		what, humanSize(s.size), steps(s.ran), steps(s.cached),
		plural(s.layers, "layer"), s.reused, s.layers-s.reused, s.elapsed.Seconds())
	for i, h := range hints {
		if i == maxHints {
			fmt.Fprintf(w, "hint: %d more: run builder check\n", len(hints)-maxHints)
			break
		}
		fmt.Fprintf(w, "hint: %s\n", h)
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// knownBlobs lists the blobs in the store, to tell afterwards which of an
// image's layers a build reused (from the cache or an earlier pull) and
// which it wrote. A store it cannot list counts as empty.
func knownBlobs(st *store.Store) map[string]bool {
	dir := filepath.Dir(st.BlobPath(v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}))
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	m := make(map[string]bool, len(ents))
	for _, e := range ents {
		m["sha256:"+e.Name()] = true
	}
	return m
}

// layerReuse counts img's layers and those whose blob was in before.
func layerReuse(img v1.Image, before map[string]bool) (layers, reused int) {
	m, err := img.Manifest()
	if err != nil {
		return 0, 0
	}
	for _, l := range m.Layers {
		if before[l.Digest.String()] {
			reused++
		}
	}
	return len(m.Layers), reused
}

// sizeReport is `builder build --report`: where the bytes of the image
// just built went.
func sizeReport(ctx context.Context, w io.Writer, img v1.Image) error {
	rep, err := imagesize.Analyze(ctx, img)
	if err != nil {
		return fmt.Errorf("analyze image: %w", err)
	}
	fmt.Fprintln(w, "== size report")
	return writeSizeReport(w, rep)
}
