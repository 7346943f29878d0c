package ctxio

import (
	"context"
	"errors"
	"io"
	"sync"
)

// Reader returns a reader of r whose reads fail with ctx's error once ctx
// is done.
func Reader(ctx context.Context, r io.Reader) io.Reader {
	return reader{ctx: ctx, r: r}
}

type reader struct {
	ctx context.Context
	r   io.Reader
}

func (c reader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// copyBufs are Copy's buffers: a layer is copied file by file, and a
// buffer per file would be most of what its copy allocates.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 128<<10); return &b }}

// Copy copies src to dst until EOF, an error, or ctx is done (checked
// before every read), through a pooled 128 KiB buffer. It returns the
// bytes written.
func Copy(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		nr, rerr := src.Read(buf)
		if nr > 0 {
			nw, werr := dst.Write(buf[:nr])
			n += int64(nw)
			if werr != nil {
				return n, werr
			}
			if nw != nr {
				return n, io.ErrShortWrite
			}
		}
		if errors.Is(rerr, io.EOF) {
			return n, nil
		}
		if rerr != nil {
			return n, rerr
		}
	}
}
