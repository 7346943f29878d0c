package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/internal/ctxio"
	"github.com/builderdev/builder/internal/procowner"
)

// Extraction extracts a layer tar while the tar is being written, from the
// same bytes, into a temp directory that Commit moves into place as the
// layer's directory: a layer that a later step needs as a lower directory
// is then never read back. It takes no CPU slot: it runs inside the step
// that writes the layer, which holds one.
type Extraction struct {
	l    *Layers
	tmp  string
	pw   *ctxio.PipeWriter
	done chan error
}

// streamBuffer is how far a layer's writer may run ahead of its extraction
// or index.
const streamBuffer = 1 << 20

var errExtractionAborted = errors.New("extraction aborted")

// NewExtraction starts an extraction; write the uncompressed tar to it,
// then call Commit or Abort. opts add to the options of l (WithLinkFrom).
func (l *Layers) NewExtraction(ctx context.Context, opts ...ExtractOption) (*Extraction, error) {
	o := l.opts
	for _, f := range opts {
		f(&o)
	}
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		return nil, fmt.Errorf("create layers dir: %w", err)
	}
	tmp, err := os.MkdirTemp(l.dir, tmpPrefix+procowner.Tag()+"stream-")
	if err != nil {
		return nil, fmt.Errorf("create extraction dir: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		os.RemoveAll(tmp)
		return nil, fmt.Errorf("chmod extraction dir: %w", err)
	}
	pw, done := consume(func(r io.Reader) error { return extract(ctx, tmp, r, whiteoutsAsOverlay, o) })
	return &Extraction{l: l, tmp: tmp, pw: pw, done: done}, nil
}

// consume runs fn, in a goroutine, over the tar written to the returned
// pipe; done receives fn's error once fn returned and the rest of the
// stream (tar padding after the end marker) was read. A failure fails
// the writes after it.
func consume(fn func(r io.Reader) error) (*ctxio.PipeWriter, chan error) {
	// The writer runs ahead of fn by up to a buffer: a small write (a tar
	// header) does not wait for fn to make the entry before it.
	pr, pw := ctxio.Pipe(streamBuffer)
	done := make(chan error, 1)
	go func() {
		err := fn(pr)
		if err == nil {
			_, err = io.Copy(io.Discard, pr)
		}
		if err != nil {
			pr.CloseWithError(err)
		} else {
			pr.Close()
		}
		done <- err
	}()
	return pw, done
}

// Write passes tar bytes to the extraction. It fails once the extraction
// failed (the caller may carry on without it).
func (e *Extraction) Write(p []byte) (int, error) { return e.pw.Write(p) }

// Commit ends the tar, waits for the extraction and moves its directory
// into place as layer diffID's (unless that layer is there already).
func (e *Extraction) Commit(diffID v1.Hash) error {
	e.pw.Close()
	if err := <-e.done; err != nil {
		os.RemoveAll(e.tmp)
		return fmt.Errorf("extract layer %s: %w", diffID, err)
	}
	moved, err := e.l.Adopt(diffID, e.tmp)
	if !moved {
		os.RemoveAll(e.tmp)
	}
	return err
}

// Abort stops the extraction and removes what it wrote.
func (e *Extraction) Abort() {
	e.pw.CloseWithError(errExtractionAborted)
	<-e.done
	os.RemoveAll(e.tmp)
}
