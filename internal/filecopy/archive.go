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
	if h.Typeflag == tar.TypeLink && escapes(h.Linkname) {
		return fmt.Errorf("%s failed: extract archive: hard link %q to %q: path escapes the extraction root", p.verb(), h.Name, h.Linkname)
	}
	target, err := p.inDest(path.Join(dest, relName(h.Name)))
	if err != nil {
		return fmt.Errorf("%s failed: extract archive: %q: %w", p.verb(), h.Name, err)
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
		off, n, err := p.spoolCopy(r)
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
func (p *plan) spoolCopy(r io.Reader) (int64, int64, error) {
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
	n, err := io.Copy(p.spool, r)
	if err != nil {
		return 0, 0, fmt.Errorf("spool archive entry: %w", err)
	}
	return off, n, nil
}
