package filecopy

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/builderdev/builder/internal/ctxio"
)

// A Plan is the entries one COPY/ADD writes, selected once: its checksum
// and its layer come from the same walk of the source (and the same
// download of an ADD URL), so a COPY whose key missed the cache stats each
// file once. A Plan holds downloads and spools until Close.
type Plan struct {
	p       *plan
	entries []*entry // in layer order, parents included, links after their targets
}

// NewPlan selects the sources of req (reading the destination req.Dest
// for what the layer depends on) and returns the plan of its layer.
func NewPlan(ctx context.Context, req Request) (*Plan, error) {
	p, err := newPlan(&req)
	if err != nil {
		return nil, err
	}
	if err := p.build(ctx); err != nil {
		p.close()
		return nil, err
	}
	entries := p.sorted()
	if err := orderLinks(entries); err != nil {
		p.close()
		return nil, err
	}
	return &Plan{p: p, entries: entries}, nil
}

// Close removes the plan's downloads and spools.
func (pl *Plan) Close() { pl.p.close() }

// Len is the number of entries of the layer, parent directories included.
func (pl *Plan) Len() int { return len(pl.entries) }

// Copy performs one COPY/ADD and streams the layer it produces to w as an
// uncompressed tar: NewPlan, then Write.
func Copy(ctx context.Context, req Request, w io.Writer) error {
	pl, err := NewPlan(ctx, req)
	if err != nil {
		return err
	}
	defer pl.Close()
	return pl.Write(ctx, w, nil)
}

// Write streams the plan's layer to w as an uncompressed tar: the selected
// files under the destination plus every parent directory of what was
// written, in directory-walk order, with Docker's headers (PAX, numeric
// uid/gid only, mtimes in whole seconds, hard links within the layer kept
// as links). onFile, when set, is called before each regular file read
// from the source is written: with its name in the layer tar and its name
// in the source, so that an extraction of the layer may link the file the
// source has.
func (pl *Plan) Write(ctx context.Context, w io.Writer, onFile func(tarName string, src FS, srcName string)) error {
	tw := tar.NewWriter(w)
	buf := make([]byte, 128*1024)
	for _, e := range pl.entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr := e.hdr
		hdr.Name = e.tarName()
		if e.hardTo != "" {
			hdr.Typeflag = tar.TypeLink
			hdr.Linkname = e.hardTo
			hdr.Size = 0
		}
		if onFile != nil && e.fsys != nil && hdr.Typeflag == tar.TypeReg {
			onFile(hdr.Name, e.fsys, e.srcName) // before a reader of the tar sees the entry
		}
		if err := tw.WriteHeader(&hdr); err != nil {
			return fmt.Errorf("write header %s: %w", hdr.Name, err)
		}
		if hdr.Typeflag != tar.TypeReg || hdr.Size == 0 {
			continue
		}
		if err := writeContent(ctx, tw, e, buf); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("close layer tar: %w", err)
	}
	return nil
}

func writeContent(ctx context.Context, tw *tar.Writer, e *entry, buf []byte) error {
	rc, err := e.open()
	if err != nil {
		return fmt.Errorf("open %s: %w", e.name, err)
	}
	defer rc.Close()
	// A file that is not the one the step's key was computed from (its
	// stat moved since) is written only if its bytes are still those the
	// key has: else the layer would not be its key's.
	var dst io.Writer = tw
	var h hash.Hash
	if e.sum != "" && changedSince(rc, e.fi) {
		h = sha256.New()
		dst = io.MultiWriter(tw, h)
	}
	n, err := io.CopyBuffer(dst, io.LimitReader(ctxio.Reader(ctx, rc), e.hdr.Size), buf)
	if err != nil {
		return fmt.Errorf("copy %s: %w", e.name, err)
	}
	if n != e.hdr.Size {
		return fmt.Errorf("copy %s: file changed while copying (%d of %d bytes)", e.name, n, e.hdr.Size)
	}
	if h != nil && hex.EncodeToString(h.Sum(nil)) != e.sum {
		return fmt.Errorf("copy %s: %w", e.name, ErrChangedDuringBuild)
	}
	return nil
}

// ErrChangedDuringBuild is a file whose content changed after the COPY
// that writes it computed its cache key.
var ErrChangedDuringBuild = errors.New("the file changed during the build, after the step's cache key was computed from it; nothing was stored, run the build again")
