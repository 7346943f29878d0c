package exporter

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/builderdev/builder/internal/ctxio"
	"github.com/builderdev/builder/internal/layer"
	"github.com/builderdev/builder/store"
)

// fileLayer is a recompressed layer: a temp file (removed by release) or a
// store blob held open (closed by release), so a prune that removes the
// blob meanwhile does not take it from under the export.
type fileLayer struct {
	f      *os.File
	temp   bool // f is a temp file to remove
	digest v1.Hash
	diffID v1.Hash
	size   int64
	mt     types.MediaType
}

var _ v1.Layer = (*fileLayer)(nil)

func (l *fileLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *fileLayer) Size() (int64, error)                { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return l.mt, nil }

func (l *fileLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(io.NewSectionReader(l.f, 0, l.size)), nil
}

func (l *fileLayer) Uncompressed() (io.ReadCloser, error) {
	return layer.OpenUncompressed(io.NopCloser(io.NewSectionReader(l.f, 0, l.size)), l.mt)
}

func (l *fileLayer) release() {
	l.f.Close()
	if l.temp {
		os.Remove(l.f.Name())
	}
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// recompressAll stages, in parallel (at most GOMAXPROCS at once), every
// layer whose target compression differs from its descriptor's (or all of
// them with o.Force). Layers not recompressed get nil. With o.Store a layer
// converted before is reused and a new conversion is kept.
func recompressAll(ctx context.Context, dir string, layers []v1.Layer, descs []v1.Descriptor, target []Compression, o Options) ([]*fileLayer, func(), error) {
	staged := make([]*fileLayer, len(layers))
	cleanup := func() {
		for _, s := range staged {
			if s != nil {
				s.release()
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i, l := range layers {
		cur, known := layer.CompressionOf(descs[i].MediaType)
		if !known || !descs[i].MediaType.IsDistributable() || o.Compression == "" {
			continue
		}
		if target[i] == cur && !o.Force {
			continue
		}
		g.Go(func() error {
			var fl *fileLayer
			var err error
			if o.Store != nil {
				fl, err = convertStored(gctx, o.Store, l, target[i], o.Level)
			} else {
				fl, err = recompress(gctx, dir, l, target[i], o.Level)
			}
			if err != nil {
				return fmt.Errorf("recompress layer %s: %w", descs[i].Digest, err)
			}
			staged[i] = fl
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		cleanup()
		return nil, func() {}, err
	}
	return staged, cleanup, nil
}

// conversionKey names the blob of a layer's content compressed with c at
// level: the same key always gives the same bytes.
func conversionKey(diffID v1.Hash, c Compression, level int) string {
	if c == Uncompressed {
		level = 0
	}
	return fmt.Sprintf("exporter/v1 %s %s level=%d", diffID, c, level)
}

// convertStored returns l compressed with c from the store: the blob of a
// recorded conversion, or a new one written and recorded now.
func convertStored(ctx context.Context, st *store.Store, l v1.Layer, c Compression, level int) (*fileLayer, error) {
	diffID, err := l.DiffID()
	if err != nil {
		return nil, err
	}
	key := conversionKey(diffID, c, level)
	// Two tries: a prune may remove a blob between finding (or writing)
	// it and opening it.
	for try := 0; try < 2; try++ {
		conv, err := st.Conversion(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			conv, err = writeConversion(ctx, st, l, key, diffID, c, level)
		}
		if err != nil {
			return nil, err
		}
		rc, err := st.OpenBlob(ctx, conv.Digest)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &fileLayer{f: rc.(*os.File), digest: conv.Digest, diffID: diffID, size: conv.Size, mt: layer.MediaType(c, true)}, nil
	}
	return nil, fmt.Errorf("converted blob of %s removed while in use", diffID)
}

// writeConversion compresses l straight into a store blob and records it.
func writeConversion(ctx context.Context, st *store.Store, l v1.Layer, key string, diffID v1.Hash, c Compression, level int) (store.Conversion, error) {
	mt := layer.MediaType(c, true)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := compressLayer(ctx, pw, l, c, level)
		pw.CloseWithError(err)
		done <- err
	}()
	h, n, err := st.WriteBlob(ctx, string(mt), pr)
	pr.CloseWithError(errors.New("blob write ended"))
	cerr := <-done
	// The blob's error first: when the write fails (a full disk), the
	// compressor only sees the pipe closed.
	if err != nil {
		return store.Conversion{}, err
	}
	if cerr != nil {
		return store.Conversion{}, cerr
	}
	conv := store.Conversion{Key: key, DiffID: diffID, Digest: h, Size: n, MediaType: string(mt)}
	if err := st.RecordConversion(ctx, conv); err != nil {
		return store.Conversion{}, err
	}
	return conv, nil
}

// recompress writes l's uncompressed content compressed with c into a temp
// file in dir, hashing on the way.
func recompress(ctx context.Context, dir string, l v1.Layer, c Compression, level int) (fl *fileLayer, err error) {
	diffID, err := l.DiffID()
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "layer-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
			fl = nil
		}
	}()
	h := sha256.New()
	cw := &counter{}
	if err := compressLayer(ctx, io.MultiWriter(f, h, cw), l, c, level); err != nil {
		return nil, err
	}
	return &fileLayer{
		f:      f,
		temp:   true,
		digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))},
		diffID: diffID,
		size:   cw.n,
		mt:     layer.MediaType(c, true), // the caller sets the final media type
	}, nil
}

// compressLayer writes l's uncompressed content compressed with c at level
// (0: the compressor's default) to w.
func compressLayer(ctx context.Context, w io.Writer, l v1.Layer, c Compression, level int) (err error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	bw := bufio.NewWriterSize(w, 1<<20)
	zw, err := layer.NewWriter(bw, c, level)
	if err != nil {
		return err
	}
	if _, err := io.Copy(zw, ctxio.Reader(ctx, rc)); err != nil {
		zw.Close()
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return bw.Flush()
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
