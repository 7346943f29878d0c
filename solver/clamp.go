package solver

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// clampWriter rewrites a tar stream on its way to w so that no entry is
// newer than epoch (rewrite-timestamp=true with SOURCE_DATE_EPOCH): two
// builds of the same inputs then give the same layers. It streams; Close
// must be called and returns the rewriting error, if any.
type clampWriter struct {
	pw   *io.PipeWriter
	done chan error
}

func newClampWriter(w io.Writer, epoch time.Time) *clampWriter {
	pr, pw := io.Pipe()
	c := &clampWriter{pw: pw, done: make(chan error, 1)}
	go func() {
		err := clampTar(pr, w, epoch)
		pr.CloseWithError(err) // unblock a writer if we stopped early
		c.done <- err
	}()
	return c
}

func (c *clampWriter) Write(p []byte) (int, error) { return c.pw.Write(p) }

// Close finishes the stream and reports whether it was rewritten whole.
func (c *clampWriter) Close() error {
	c.pw.Close()
	return <-c.done
}

// abort stops the rewriting after a failure upstream.
func (c *clampWriter) abort(err error) {
	c.pw.CloseWithError(err)
	<-c.done
}

func clampTar(r io.Reader, w io.Writer, epoch time.Time) error {
	tr := tar.NewReader(r)
	tw := tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("rewrite timestamps: %w", err)
		}
		if hdr.ModTime.After(epoch) {
			hdr.ModTime = epoch
		}
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		delete(hdr.PAXRecords, "mtime")
		delete(hdr.PAXRecords, "atime")
		delete(hdr.PAXRecords, "ctime")
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("rewrite timestamps: %w", err)
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return fmt.Errorf("rewrite timestamps: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("rewrite timestamps: %w", err)
	}
	return nil
}

// writeLayer makes a layer in the store from the tar stream fn writes,
// with timestamps clamped when the build asks for it.
func (b *build) writeLayer(ctx context.Context, fn func(w io.Writer) error) (v1.Layer, error) {
	lw, err := b.s.store.NewLayer(ctx)
	if err != nil {
		return nil, fmt.Errorf("create layer: %w", err)
	}
	if !b.req.RewriteTimestamp || b.req.SourceDateEpoch == nil {
		if err := fn(lw); err != nil {
			lw.Abort()
			return nil, err
		}
		return lw.Commit(ctx)
	}
	cw := newClampWriter(lw, b.req.SourceDateEpoch.UTC())
	if err := fn(cw); err != nil {
		cw.abort(err)
		lw.Abort()
		return nil, err
	}
	if err := cw.Close(); err != nil {
		lw.Abort()
		return nil, err
	}
	return lw.Commit(ctx)
}
