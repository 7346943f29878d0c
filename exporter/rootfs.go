package exporter

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/internal/layer"
	"github.com/builderdev/builder/snapshot"
)

const (
	whiteoutPrefix = ".wh."
	opaqueWhiteout = ".wh..wh..opq"
)

// entry is where the final version of a path comes from.
type entry struct {
	layer int
	seq   int // index of the header within its layer's tar
	hdr   *tar.Header
}

// flatState is what the first pass (top layer down, headers only) learns.
type flatState struct {
	final map[string]entry
	// promote[layer][target] is the visible hardlink that must carry the
	// content of target (hidden in the result) as a regular file.
	promote []map[string]string
}

// WriteRootfsTar writes the image's root file system, all layers applied
// (whiteouts and opaque directories honoured), as one uncompressed tar
// (BuildKit's type=tar). Ownership, modes, times, xattrs, symlinks and
// hardlinks are kept; a hardlink whose target is hidden by an upper layer
// becomes a regular file. Parents come before children. Layers are read
// twice and never held in memory.
func WriteRootfsTar(ctx context.Context, w io.Writer, img v1.Image) error {
	tw := tar.NewWriter(w)
	if err := writeRootfs(ctx, tw, img, ""); err != nil {
		return fmt.Errorf("write rootfs tar: %w", err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write rootfs tar: %w", err)
	}
	return nil
}

// WriteRootfsTarPlatforms writes the root file systems of a multi-platform
// build into one tar, as buildx's type=tar does: each platform's entries
// under its directory ("linux_amd64/", "linux_arm64/"), in the order given.
func WriteRootfsTarPlatforms(ctx context.Context, w io.Writer, imgs []PlatformImage) error {
	tw := tar.NewWriter(w)
	for _, pi := range imgs {
		dir := strings.ReplaceAll(platformString(pi.Platform), "/", "_")
		if err := tw.WriteHeader(&tar.Header{Name: dir + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch}); err != nil {
			return fmt.Errorf("write rootfs tar: %w", err)
		}
		if err := writeRootfs(ctx, tw, pi.Image, dir+"/"); err != nil {
			return fmt.Errorf("write rootfs tar: %s: %w", platformString(pi.Platform), err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("write rootfs tar: %w", err)
	}
	return nil
}

// writeRootfs writes img's flattened entries to tw, each name (and
// hardlink target) prefixed with prefix.
func writeRootfs(ctx context.Context, tw *tar.Writer, img v1.Image, prefix string) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	st, err := scanLayers(ctx, layers)
	if err != nil {
		return err
	}
	fw := &flatWriter{tw: tw, st: st, prefix: prefix, emitted: map[string]bool{}, linkAs: map[string]string{}}
	for i, l := range layers {
		if err := fw.emitLayer(ctx, i, l); err != nil {
			return fmt.Errorf("layer %d: %w", i, err)
		}
	}
	return nil
}

// WriteLocal writes the image's root file system into dir (BuildKit's
// type=local), creating dir if needed: the tar of WriteRootfsTar is
// streamed into snapshot.Apply, which keeps every path inside dir.
func WriteLocal(ctx context.Context, img v1.Image, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(WriteRootfsTar(ctx, pw, img))
	}()
	err := snapshot.Apply(ctx, dir, pr)
	pr.CloseWithError(err)
	if err != nil {
		return fmt.Errorf("write %s: %w", dir, err)
	}
	return nil
}

// cleanName turns a tar name into an unrooted clean path ("" for the root).
func cleanName(name string) string {
	p := path.Clean("/" + name)
	return strings.TrimPrefix(p, "/")
}

// scanLayers finds the final version of every visible path.
func scanLayers(ctx context.Context, layers []v1.Layer) (*flatState, error) {
	st := &flatState{final: map[string]entry{}, promote: make([]map[string]string, len(layers))}
	deleted := map[string]bool{} // whiteouts of upper layers (path and subtree)
	opaque := map[string]bool{}  // opaque dirs of upper layers (subtree only)
	hidden := func(p string, layer int) bool {
		if deleted[p] {
			return true
		}
		for a := p; a != ""; {
			a = parent(a)
			if deleted[a] || opaque[a] {
				return true
			}
			if e, ok := st.final[a]; ok && e.layer > layer && e.hdr.Typeflag != tar.TypeDir {
				return true
			}
			if a == "" {
				break
			}
		}
		return false
	}
	for i := len(layers) - 1; i >= 0; i-- {
		newDeleted, newOpaque := map[string]bool{}, map[string]bool{}
		type link struct{ name, target string }
		var links []link
		seq := -1
		err := layer.EachEntry(ctx, layers[i], func(h *tar.Header, _ io.Reader) error {
			seq++
			p := cleanName(h.Name)
			dir, base := parent(p), path.Base(p)
			switch {
			case p == "":
				return nil
			case base == opaqueWhiteout:
				newOpaque[dir] = true
				return nil
			case strings.HasPrefix(base, whiteoutPrefix):
				newDeleted[path.Join(dir, base[len(whiteoutPrefix):])] = true
				return nil
			}
			if e, ok := st.final[p]; ok && e.layer != i {
				return nil // an upper layer has this path
			}
			if hidden(p, i) {
				return nil
			}
			// Within one layer a later entry for the same path wins.
			st.final[p] = entry{layer: i, seq: seq, hdr: h}
			if h.Typeflag == tar.TypeLink {
				links = append(links, link{p, cleanName(h.Linkname)})
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
		// A visible hardlink whose target is not the final version of the
		// target path must carry the content itself.
		for _, l := range links {
			if e, ok := st.final[l.name]; !ok || e.layer != i {
				continue
			}
			if e, ok := st.final[l.target]; ok && e.layer == i && e.hdr.Typeflag == tar.TypeReg {
				continue
			}
			if st.promote[i] == nil {
				st.promote[i] = map[string]string{}
			}
			if _, ok := st.promote[i][l.target]; !ok {
				st.promote[i][l.target] = l.name
			}
		}
		for p := range newDeleted {
			deleted[p] = true
		}
		for p := range newOpaque {
			opaque[p] = true
		}
	}
	return st, nil
}

func parent(p string) string {
	d := path.Dir(p)
	if d == "." || d == "/" {
		return ""
	}
	return d
}

// flatWriter is the second pass: layers bottom up, each path written once.
type flatWriter struct {
	tw      *tar.Writer
	st      *flatState
	prefix  string // put before every name ("linux_arm64/"), or ""
	emitted map[string]bool
	linkAs  map[string]string // hidden link target → promoted name, per layer
}

func (fw *flatWriter) emitLayer(ctx context.Context, i int, l v1.Layer) error {
	clear(fw.linkAs)
	seq := -1
	return layer.EachEntry(ctx, l, func(h *tar.Header, r io.Reader) error {
		seq++
		p := cleanName(h.Name)
		if p == "" || strings.HasPrefix(path.Base(p), whiteoutPrefix) {
			return nil
		}
		if name, ok := fw.st.promote[i][p]; ok && h.Typeflag == tar.TypeReg {
			if fw.emitted[name] {
				return nil
			}
			fw.linkAs[p] = name
			hh := *h
			return fw.write(name, &hh, r)
		}
		e, ok := fw.st.final[p]
		if !ok || fw.emitted[p] {
			return nil
		}
		switch {
		case e.layer == i && e.seq == seq:
			hh := *e.hdr
			if hh.Typeflag == tar.TypeLink {
				t := cleanName(hh.Linkname)
				if name, ok := fw.linkAs[t]; ok {
					if name == p {
						return nil // already written as the promoted file
					}
					t = name
				}
				hh.Linkname = t
			}
			return fw.write(p, &hh, r)
		case e.hdr.Typeflag == tar.TypeDir && h.Typeflag == tar.TypeDir:
			// Write the directory where it first appears, with its final
			// metadata, so lower-layer children follow their parent.
			hh := *e.hdr
			return fw.write(p, &hh, nil)
		}
		return nil
	})
}

// write emits one entry (after any parent not yet written).
func (fw *flatWriter) write(p string, h *tar.Header, r io.Reader) error {
	if err := fw.ensureParents(p); err != nil {
		return err
	}
	h.Name = fw.prefix + p
	if h.Typeflag == tar.TypeLink {
		h.Linkname = fw.prefix + h.Linkname
	}
	if h.Typeflag == tar.TypeDir {
		h.Name += "/"
	}
	normalize(h)
	if h.Typeflag != tar.TypeReg {
		h.Size = 0
	}
	if err := fw.tw.WriteHeader(h); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	if h.Typeflag == tar.TypeReg && r != nil {
		if _, err := io.Copy(fw.tw, r); err != nil {
			return fmt.Errorf("write %s: %w", p, err)
		}
	}
	fw.emitted[p] = true
	return nil
}

// ensureParents writes the final headers of p's parent directories that
// were not written yet (a layer may omit parents).
func (fw *flatWriter) ensureParents(p string) error {
	d := parent(p)
	if d == "" || fw.emitted[d] {
		return nil
	}
	if err := fw.ensureParents(d); err != nil {
		return err
	}
	e, ok := fw.st.final[d]
	var h tar.Header
	if ok && e.hdr.Typeflag == tar.TypeDir {
		h = *e.hdr
	} else {
		h = tar.Header{Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch}
	}
	h.Name = fw.prefix + d + "/"
	h.Format = tar.FormatUnknown
	if err := fw.tw.WriteHeader(&h); err != nil {
		return fmt.Errorf("write %s: %w", d, err)
	}
	fw.emitted[d] = true
	return nil
}

// normalize lets the writer pick the tar format again and drops PAX records
// that only restate header fields (xattrs and the like are kept).
func normalize(h *tar.Header) {
	h.Format = tar.FormatUnknown
	if len(h.PAXRecords) == 0 {
		return
	}
	recs := make(map[string]string, len(h.PAXRecords))
	for k, v := range h.PAXRecords {
		switch k {
		case "path", "linkpath", "size", "uid", "gid", "uname", "gname", "mtime", "atime", "ctime":
		default:
			recs[k] = v
		}
	}
	h.PAXRecords = recs
}
