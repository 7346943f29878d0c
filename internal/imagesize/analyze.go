package imagesize

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/internal/layer"
)

// Largest is how many of a layer's largest files a Layer lists.
const Largest = 10

// File is one path and its size in bytes.
type File struct {
	Path string `json:"path"`
	Size int64  `json:"size"`
}

// Layer is what one layer holds and how much of it is wasted.
type Layer struct {
	Digest    string `json:"digest"`
	CreatedBy string `json:"created_by"` // the history entry that made it
	Size      int64  `json:"size"`       // the bytes of its files (uncompressed)
	BlobSize  int64  `json:"blob_size"`  // the (compressed) blob, as in the manifest
	Files     int    `json:"files"`      // tar entries, whiteouts included
	// Replaced are the bytes of its files that a later layer overwrites or
	// deletes (whiteouts and opaque directories).
	Replaced int64 `json:"replaced"`
	// CacheLeft are the bytes of package-manager caches it leaves in the
	// final filesystem, per cache directory in Caches.
	CacheLeft int64  `json:"cache_left"`
	Caches    []File `json:"caches,omitempty"`
	Wasted    int64  `json:"wasted"` // Replaced + CacheLeft
	// Largest are its Largest largest regular files, largest first.
	Largest []File `json:"largest"`
}

// Report is where the bytes of an image went.
type Report struct {
	Layers    []Layer `json:"layers"`
	Size      int64   `json:"size"`       // the bytes of all layers' files
	FinalSize int64   `json:"final_size"` // the bytes of the final filesystem's files
	Wasted    int64   `json:"wasted"`     // the layers' Wasted
	// Efficiency is dive's score: over every path a layer holds as a leaf,
	// the smallest size it was ever given over the sum of all its sizes (a
	// whiteout of a file counts 0, of a directory what was below it).
	Efficiency float64 `json:"efficiency"`
}

// entry is one tar header of a layer, as far as sizes go.
type entry struct {
	path string // clean, relative, "" for the root
	kind byte   // 'f' file, 'd' directory, 'o' other (links, devices), 'w' whiteout, 'q' opaque, 'x' aufs metadata (skipped)
	size int64
}

// effPath is dive's record of one path.
type effPath struct{ min, cum int64 }

// Analyze reads img's layers, one at a time as tar streams, and reports
// where its bytes went. Memory grows with the number of paths, never with
// the size of the files.
func Analyze(ctx context.Context, img v1.Image) (*Report, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("list layers: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	createdBy := layerHistory(cfg, len(layers))
	rep := &Report{Layers: make([]Layer, len(layers))}
	t := newTree(len(layers))
	eff := map[string]*effPath{}
	for i, l := range layers {
		li := &rep.Layers[i]
		li.CreatedBy = createdBy[i]
		if d, err := l.Digest(); err == nil {
			li.Digest = d.String()
		}
		if n, err := l.Size(); err == nil {
			li.BlobSize = n
		}
		entries, err := readEntries(ctx, l)
		if err != nil {
			return nil, fmt.Errorf("read layer %d (%s): %w", i+1, li.Digest, err)
		}
		li.Files = len(entries)
		li.Largest = largest(entries)
		for _, e := range entries {
			li.Size += e.size // 0 for all but files
		}
		diveLayer(t, eff, entries)
		for _, e := range entries {
			switch e.kind {
			case 'w':
				t.whiteout(e.path, i)
			case 'q':
				t.opaque(e.path, i)
			case 'x':
			default:
				if e.path != "" {
					t.put(e.path, e.kind == 'd', e.size, i)
				}
			}
		}
	}
	caches := make([]map[string]int64, len(layers))
	t.walk(func(p string, n *node) {
		rep.FinalSize += n.size
		if c := cacheDir(p); c != "" && n.size > 0 {
			if caches[n.layer] == nil {
				caches[n.layer] = map[string]int64{}
			}
			caches[n.layer][c] += n.size
		}
	})
	for i := range rep.Layers {
		li := &rep.Layers[i]
		li.Replaced = t.replaced[i]
		for c, n := range caches[i] {
			li.Caches = append(li.Caches, File{Path: c, Size: n})
			li.CacheLeft += n
		}
		sortFiles(li.Caches)
		li.Wasted = li.Replaced + li.CacheLeft
		rep.Size += li.Size
		rep.Wasted += li.Wasted
	}
	rep.Efficiency = score(eff)
	return rep, nil
}

// layerHistory gives each of n layers the created_by of its history entry:
// the entries that are not empty layers, in order.
func layerHistory(cfg *v1.ConfigFile, n int) []string {
	out := make([]string, n)
	i := 0
	for _, h := range cfg.History {
		if h.EmptyLayer {
			continue
		}
		if i == n {
			break
		}
		out[i] = h.CreatedBy
		i++
	}
	return out
}

// readEntries reads the tar headers of l's uncompressed stream.
func readEntries(ctx context.Context, l v1.Layer) ([]entry, error) {
	var entries []entry
	err := eachEntry(ctx, l, func(e entry) { entries = append(entries, e) })
	return entries, err
}

// ContentSize is the bytes of l's files (uncompressed), what `docker
// history` calls a layer's size; l is read as a stream.
func ContentSize(ctx context.Context, l v1.Layer) (int64, error) {
	var n int64
	err := eachEntry(ctx, l, func(e entry) { n += e.size }) // 0 for all but files
	return n, err
}

// eachEntry calls fn with each tar header of l's uncompressed stream.
func eachEntry(ctx context.Context, l v1.Layer, fn func(entry)) error {
	return layer.EachEntry(ctx, l, func(h *tar.Header, _ io.Reader) error {
		fn(toEntry(h))
		return nil
	})
}

func toEntry(h *tar.Header) entry {
	p := strings.TrimPrefix(path.Clean("/"+h.Name), "/")
	dir, base := path.Split(p)
	dir = strings.TrimSuffix(dir, "/")
	switch {
	case base == ".wh..wh..opq":
		return entry{path: dir, kind: 'q'}
	case strings.HasPrefix(base, ".wh..wh."): // other aufs metadata, not a file of the image
		return entry{path: p, kind: 'x'}
	case strings.HasPrefix(base, ".wh."):
		return entry{path: path.Join(dir, strings.TrimPrefix(base, ".wh.")), kind: 'w'}
	}
	e := entry{path: p, size: h.Size, kind: 'o'}
	switch h.Typeflag {
	case tar.TypeDir:
		e.kind, e.size = 'd', 0
	case tar.TypeReg, tar.TypeRegA:
		e.kind = 'f'
	default:
		e.size = 0 // links and devices hold no bytes
	}
	return e
}

// diveLayer adds one layer to dive's efficiency records, before the layer
// is applied to t: dive visits the leaves of the layer's own tree (opaque
// markers are not in it) and sizes a whiteout from the layers below.
func diveLayer(t *tree, eff map[string]*effPath, entries []entry) {
	last := map[string]entry{} // a path written twice counts once, as its last entry
	parents := map[string]bool{}
	for _, e := range entries {
		if e.kind == 'q' || e.kind == 'x' || e.path == "" {
			continue // dive leaves opaque markers out of its trees
		}
		last[e.path] = e
		for d := path.Dir(e.path); d != "." && !parents[d]; d = path.Dir(d) {
			parents[d] = true
		}
	}
	for p, e := range last {
		if parents[p] {
			continue // not a leaf
		}
		size := e.size
		if e.kind == 'w' {
			size = diveSize(t.lookup(p))
		}
		r := eff[p]
		if r == nil {
			r = &effPath{min: size}
			eff[p] = r
		}
		r.cum += size
		r.min = min(r.min, size)
	}
}

func score(eff map[string]*effPath) float64 {
	var minSum, cumSum int64
	for _, r := range eff {
		minSum += r.min
		cumSum += r.cum
	}
	if cumSum == 0 {
		return 1
	}
	return float64(minSum) / float64(cumSum)
}

// largest returns the Largest largest regular files of entries.
func largest(entries []entry) []File {
	var out []File
	for _, e := range entries {
		if e.kind == 'f' {
			out = append(out, File{Path: "/" + e.path, Size: e.size})
		}
	}
	sortFiles(out)
	if len(out) > Largest {
		out = out[:Largest:Largest]
	}
	return out
}

// sortFiles sorts largest first, then by path.
func sortFiles(fs []File) {
	sort.Slice(fs, func(i, j int) bool {
		if fs[i].Size != fs[j].Size {
			return fs[i].Size > fs[j].Size
		}
		return fs[i].Path < fs[j].Path
	})
}
