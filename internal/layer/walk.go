package layer

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// EachEntry streams l's uncompressed tar and calls fn with every header and
// a reader of that entry's bytes (valid until fn returns). It stops at the
// first error of fn, of the stream, or of ctx; memory does not grow with
// the layer.
func EachEntry(ctx context.Context, l v1.Layer, fn func(*tar.Header, io.Reader) error) (err error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return fmt.Errorf("open layer: %w", err)
	}
	defer func() {
		if cerr := rc.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close layer: %w", cerr)
		}
	}()
	tr := tar.NewReader(rc)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar header: %w", err)
		}
		if err := fn(h, tr); err != nil {
			return err
		}
	}
}
