package filecopy

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/builderdev/builder/internal/layer"
)

// maybeExtract extracts the archive open returns into the directory dest
// (ADD semantics: entries keep their owner unless --chown, mode and mtime;
// --chmod does not apply). It reports false, without error, when the file is
// not a (possibly compressed) tar.
func (p *plan) maybeExtract(ctx context.Context, open func() (io.ReadCloser, error), dest string) (bool, error) {
	rc, err := open()
	if err != nil {
		return false, fmt.Errorf("open archive: %w", err)
	}
	defer rc.Close()
	// The compression is detected by content, as Docker's DecompressStream
	// does: gzip, bzip2, xz, zstd or none.
	r, _, err := layer.DecompressStream(rc)
	if err != nil {
		return false, nil
	}
	defer r.Close()
	tr := tar.NewReader(r)
	hdr, err := tr.Next()
	if err != nil {
		return false, nil
	}
	if err := p.mkdirAll(dest, p.createdOwner()); err != nil {
		return true, err
	}
	for ; err == nil; hdr, err = tr.Next() {
		if cerr := ctx.Err(); cerr != nil {
			return true, cerr
		}
		if err := p.extractEntry(hdr, tr, dest); err != nil {
			return true, err
		}
	}
	if !errors.Is(err, io.EOF) {
		return true, fmt.Errorf("read archive: %w", err)
	}
	return true, nil
}

// escapes reports whether the archive name climbs above the extraction root
// (Docker's and BuildKit's breakout check).
func escapes(name string) bool {
	c := path.Clean(name)
	return c == ".." || strings.HasPrefix(c, "../")
}

func (p *plan) extractEntry(h *tar.Header, r io.Reader, dest string) error {
	if escapes(h.Name) {
		return fmt.Errorf("%s failed: extract archive: %q: path escapes the extraction root", p.verb(), h.Name)
	}
	if err := layer.CheckName(h.Name); err != nil {
		return fmt.Errorf("%s failed: extract archive: %.64q...: %w", p.verb(), h.Name, err)
	}
	if base := path.Base(path.Clean("/" + h.Name)); strings.HasPrefix(base, whiteoutPrefix) {
		return p.whiteout(h.Name, base)
	}
	if h.Typeflag == tar.TypeLink && escapes(h.Linkname) {
		return fmt.Errorf("%s failed: extract archive: hard link %q to %q: path escapes the extraction root", p.verb(), h.Name, h.Linkname)
	}
	target, err := p.inDest(path.Join(dest, relName(h.Name)))
	if err != nil {
		return fmt.Errorf("%s failed: extract archive: %q: %w", p.verb(), h.Name, err)
	}
	if len(target) > layer.MaxPath {
		return fmt.Errorf("%s failed: extract archive: %.64q...: path under the destination is %d bytes long, over the kernel's limit of %d", p.verb(), h.Name, len(target), layer.MaxPath)
	}
	hdr := layer.Normalize(h)
	// Extended attributes (file capabilities such as security.capability)
	// come along, as BuildKit's unpack keeps them.
	for k, v := range h.PAXRecords {
		if strings.HasPrefix(k, "SCHILY.xattr.") {
			if hdr.PAXRecords == nil {
				hdr.PAXRecords = map[string]string{}
			}
			hdr.PAXRecords[k] = v
		}
	}
	if c := p.req.Chown; c != nil {
		hdr.Uid, hdr.Gid = int(c.UID), int(c.GID)
	}
	e := &entry{name: target, hdr: hdr}
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeRegA:
		e.hdr.Typeflag = tar.TypeReg
		off, n, err := p.spoolCopy(r, h.Size)
		if err != nil {
			return err
		}
		e.hdr.Size = n
		spool := p.spool
		e.open = func() (io.ReadCloser, error) { return io.NopCloser(io.NewSectionReader(spool, off, n)), nil }
	case tar.TypeDir:
		if target == "" {
			return nil
		}
	case tar.TypeSymlink:
		e.hdr.Linkname = h.Linkname
	case tar.TypeLink:
		if e.hdr.Linkname, err = p.inDest(path.Join(dest, relName(h.Linkname))); err != nil {
			return fmt.Errorf("%s failed: extract archive: hard link %q: %w", p.verb(), h.Name, err)
		}
		// A layer can hold a hard link only to a file of the same layer:
		// the target must be an earlier non-directory entry of this
		// archive, or the layer could not be extracted. Docker would link
		// to a file of the base image instead; we refuse here, at the ADD.
		t, ok := p.entries[e.hdr.Linkname]
		if !ok || t.hdr.Typeflag == tar.TypeDir {
			return fmt.Errorf("%s failed: extract archive: hard link %q to %q: the target is not a file written earlier by this archive", p.verb(), h.Name, h.Linkname)
		}
		if t.hdr.Typeflag == tar.TypeLink {
			e.hdr.Linkname = t.hdr.Linkname // a link to a link names the file
		}
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	default:
		return nil // pax globals, GNU extensions, sockets…
	}
	if target == "" {
		return nil
	}
	// Docker's Untar creates missing parents 0755 owned by root.
	if err := p.mkdirAll(parentOf(target), owner{}); err != nil {
		return err
	}
	p.put(e)
	return nil
}

// spoolCopy appends r to the spool file and returns its offset and length.
// The size the entry declares is counted against the extraction budget
// before anything is written.
func (p *plan) spoolCopy(r io.Reader, size int64) (int64, int64, error) {
	if p.spool == nil {
		f, err := os.CreateTemp(p.req.TmpDir, "add-spool-*")
		if err != nil {
			return 0, 0, fmt.Errorf("create spool: %w", err)
		}
		p.spool = f
		p.cleanup = append(p.cleanup, f.Name())
	}
	off, err := p.spool.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, 0, fmt.Errorf("seek spool: %w", err)
	}
	if p.budget == nil {
		p.budget = layer.NewBudget(p.req.TmpDir, p.req.MaxExtractSize)
		if p.budget.Dir == "" {
			p.budget.Dir = os.TempDir()
		}
	}
	if err := p.budget.Add(size); err != nil {
		return 0, 0, fmt.Errorf("%s failed: extract archive: %w", p.verb(), err)
	}
	n, err := io.Copy(p.spool, r)
	if err != nil {
		return 0, 0, fmt.Errorf("%s failed: extract archive: %w", p.verb(), err)
	}
	return off, n, nil
}

// whiteout handles an archive entry named .wh.*. In an image layer such a
// name deletes a file of the layers below, so the layer cannot hold it as a
// file. Docker's and BuildKit's ADD extract it as a plain file, and the
// layer they write then deletes the base image's file of that name by
// accident; builder leaves whiteout entries out of the layer instead, and
// the base image's files stay.
func (p *plan) whiteout(name, base string) error {
	if base == whiteoutPrefix {
		return fmt.Errorf("%s failed: extract archive: %q: invalid whiteout entry", p.verb(), name)
	}
	return nil
}

// whiteoutPrefix starts the names of whiteout entries (OCI image layers).
const whiteoutPrefix = ".wh."

// orderLinks makes every hard link entry of an extracted archive follow the
// file it links to in out (walk order): when a link sorts before its target,
// the first of them carries the file and the others link to it. It fails
// when a later source replaced a link's target.
func orderLinks(out []*entry) error {
	byName := make(map[string]*entry, len(out))
	links := map[string][]*entry{}
	var targets []string
	for _, e := range out {
		byName[e.name] = e
		if e.hdr.Typeflag == tar.TypeLink {
			t := e.hdr.Linkname
			if _, ok := links[t]; !ok {
				targets = append(targets, t)
			}
			links[t] = append(links[t], e)
		}
	}
	for _, name := range targets {
		t, ok := byName[name]
		if !ok || t.hdr.Typeflag == tar.TypeDir || t.hdr.Typeflag == tar.TypeLink {
			return fmt.Errorf("ADD failed: extract archive: hard link %q: its target %q was replaced", links[name][0].name, name)
		}
		first := t
		for _, l := range links[name] {
			if lessPath(l.name, first.name) < 0 {
				first = l
			}
		}
		if first == t {
			continue
		}
		fname, linkHdr := first.name, first.hdr
		*first = *t
		first.name = fname
		t.hdr, t.open = linkHdr, nil
		for _, l := range append(links[name], t) {
			if l != first {
				l.hdr.Linkname = fname
			}
		}
	}
	return nil
}
