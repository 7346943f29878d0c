package layer

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"time"
)

// ClampWriter rewrites a tar stream on its way to w so that no entry is
// newer than epoch (rewrite-timestamp=true with SOURCE_DATE_EPOCH): two
// builds of the same inputs then give the same layers. It streams; Close
// must be called and returns the rewriting error, if any.
type ClampWriter struct {
	pw   *io.PipeWriter
	done chan error
}

// NewClampWriter starts rewriting the tar stream written to it into w.
func NewClampWriter(w io.Writer, epoch time.Time) *ClampWriter {
	pr, pw := io.Pipe()
	c := &ClampWriter{pw: pw, done: make(chan error, 1)}
	go func() {
		err := ClampTar(pr, w, epoch)
		pr.CloseWithError(err) // unblock a writer if we stopped early
		c.done <- err
	}()
	return c
}

// Write takes the next bytes of the tar stream.
func (c *ClampWriter) Write(p []byte) (int, error) { return c.pw.Write(p) }

// Close finishes the stream and reports whether it was rewritten whole.
func (c *ClampWriter) Close() error {
	c.pw.Close()
	return <-c.done
}

// Abort stops the rewriting after a failure upstream.
func (c *ClampWriter) Abort(err error) {
	c.pw.CloseWithError(err)
	<-c.done
}

// ClampTar copies the tar stream r to w with every mtime after epoch set to
// epoch and atime/ctime dropped; everything else of each entry is kept.
func ClampTar(r io.Reader, w io.Writer, epoch time.Time) error {
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
