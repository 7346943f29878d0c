package solver

import (
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/internal/layer"
)

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
	cw := layer.NewClampWriter(lw, b.req.SourceDateEpoch.UTC())
	if err := fn(cw); err != nil {
		cw.Abort(err)
		lw.Abort()
		return nil, err
	}
	if err := cw.Close(); err != nil {
		lw.Abort()
		return nil, err
	}
	return lw.Commit(ctx)
}
