package filecopy

import (
	"archive/tar"
	"context"
	"fmt"
	"io"

	"github.com/builderdev/builder/internal/ctxio"
)

// Copy performs one COPY/ADD and streams the layer it produces to w as an
// uncompressed tar: the selected files under the destination plus every
// parent directory of what was written, in directory-walk order, with
// Docker's headers (PAX, numeric uid/gid only, mtimes in whole seconds, hard
// links within the layer kept as links).
func Copy(ctx context.Context, req Request, w io.Writer) error {
	p, err := newPlan(&req)
	if err != nil {
		return err
	}
	defer p.close()
	if err := p.build(ctx); err != nil {
		return err
	}
	tw := tar.NewWriter(w)
	buf := make([]byte, 128*1024)
	entries := p.sorted()
	if err := orderLinks(entries); err != nil {
		return err
	}
	for _, e := range entries {
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
		if req.OnFile != nil && e.fsys != nil && hdr.Typeflag == tar.TypeReg {
			req.OnFile(hdr.Name, e.fsys, e.srcName) // before a reader of the tar sees the entry
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
	n, err := io.CopyBuffer(tw, io.LimitReader(ctxio.Reader(ctx, rc), e.hdr.Size), buf)
	if err != nil {
		return fmt.Errorf("copy %s: %w", e.name, err)
	}
	if n != e.hdr.Size {
		return fmt.Errorf("copy %s: file changed while copying (%d of %d bytes)", e.name, n, e.hdr.Size)
	}
	return nil
}
