package solver

import (
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/internal/layer"
	"github.com/builderdev/builder/snapshot"
)

// writeLayer makes a layer in the store from the tar stream fn writes,
// with timestamps clamped when the build asks for it.
func (b *build) writeLayer(ctx context.Context, fn func(w io.Writer) error) (v1.Layer, error) {
	return b.writeLayerTo(ctx, fn, nil)
}

// writeLayerExtracted is writeLayer that also extracts the layer, from the
// same bytes, as the directory later steps use as a lower directory. A
// failed extraction costs only the extraction (the layer is extracted
// from its tar when needed). hint names the step (its arguments, "" for
// none): its files that the layer it made last has unchanged are hard
// links to that layer's, and this layer is the next one's hint. opts add
// to how the layer is extracted (snapshot.WithLinkSources).
func (b *build) writeLayerExtracted(ctx context.Context, fn func(w io.Writer) error, hint string, opts ...snapshot.ExtractOption) (v1.Layer, error) {
	if dir, ok := b.s.store.LinkHint(hint); ok && hint != "" {
		opts = append(opts, snapshot.WithLinkFrom(dir))
	}
	ex, err := b.s.layers.NewExtraction(ctx, opts...)
	if err != nil {
		return b.writeLayer(ctx, fn)
	}
	side := &sideWriter{w: ex}
	l, err := b.writeLayerTo(ctx, fn, side)
	if err != nil || side.w == nil {
		ex.Abort()
		return l, err
	}
	if id, err := l.DiffID(); err == nil {
		if ex.Commit(id) == nil && hint != "" { // best effort, as above
			_ = b.s.store.RecordLinkHint(hint, id)
		}
	} else {
		ex.Abort()
	}
	return l, nil
}

// writeLayerIndexed is writeLayer that also indexes the layer from the
// same bytes, for the steps after it that only look names up in it
// (destView). A failed index costs only the index.
func (b *build) writeLayerIndexed(ctx context.Context, fn func(w io.Writer) error) (v1.Layer, error) {
	x := snapshot.NewIndexer(ctx)
	side := &sideWriter{w: x}
	l, err := b.writeLayerTo(ctx, fn, side)
	if err != nil || side.w == nil {
		x.Abort()
		return l, err
	}
	id, err := l.DiffID()
	if ix, ierr := x.Finish(); err == nil && ierr == nil {
		b.keepIndex(l, id, ix)
	}
	return l, nil
}

// sideWriter passes writes on to w until w fails once, then drops them.
type sideWriter struct{ w io.Writer }

func (s *sideWriter) Write(p []byte) (int, error) {
	if s.w != nil {
		if _, err := s.w.Write(p); err != nil {
			s.w = nil
		}
	}
	return len(p), nil
}

func (b *build) writeLayerTo(ctx context.Context, fn func(w io.Writer) error, side io.Writer) (v1.Layer, error) {
	lw, err := b.s.store.NewLayer(ctx)
	if err != nil {
		return nil, fmt.Errorf("create layer: %w", err)
	}
	var out io.Writer = lw
	if side != nil {
		out = io.MultiWriter(lw, side)
	}
	if !b.req.RewriteTimestamp || b.req.SourceDateEpoch == nil {
		if err := fn(out); err != nil {
			lw.Abort()
			return nil, err
		}
		return lw.Commit(ctx)
	}
	cw := layer.NewClampWriter(out, b.req.SourceDateEpoch.UTC())
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
