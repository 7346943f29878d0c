package exporter

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"

	"github.com/builderdev/builder/ctxio"
)

// fileLayer is a recompressed layer staged in a temp file.
type fileLayer struct {
	path   string
	digest v1.Hash
	diffID v1.Hash
	size   int64
	mt     types.MediaType
}

var _ v1.Layer = (*fileLayer)(nil)

func (l *fileLayer) Digest() (v1.Hash, error)             { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)             { return l.diffID, nil }
func (l *fileLayer) Size() (int64, error)                 { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error)  { return l.mt, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)   { return os.Open(l.path) }
func (l *fileLayer) Uncompressed() (io.ReadCloser, error) { return decompress(l.path, l.mt) }

// decompress opens a staged blob and undoes its compression.
func decompress(path string, mt types.MediaType) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	c, _ := compressionOf(mt)
	switch c {
	case Uncompressed:
		return f, nil
	case Zstd:
		d, err := zstd.NewReader(bufio.NewReader(f))
		if err != nil {
			f.Close()
			return nil, err
		}
		return readCloser{d, func() error { d.Close(); return f.Close() }}, nil
	default:
		z, err := gzip.NewReader(bufio.NewReader(f))
		if err != nil {
			f.Close()
			return nil, err
		}
		return readCloser{z, func() error { z.Close(); return f.Close() }}, nil
	}
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// recompressAll stages, in parallel, every layer whose target compression
// differs from its descriptor's (or all of them with o.Force). Layers not
// recompressed get nil.
func recompressAll(ctx context.Context, dir string, layers []v1.Layer, descs []v1.Descriptor, target []Compression, o Options) ([]*fileLayer, func(), error) {
	staged := make([]*fileLayer, len(layers))
	cleanup := func() {
		for _, s := range staged {
			if s != nil {
				os.Remove(s.path)
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.NumCPU())
	for i, l := range layers {
		cur, known := compressionOf(descs[i].MediaType)
		if !known || !descs[i].MediaType.IsDistributable() || o.Compression == "" {
			continue
		}
		if target[i] == cur && !o.Force {
			continue
		}
		g.Go(func() error {
			fl, err := recompress(gctx, dir, l, target[i], o.Level)
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

// recompress writes l's uncompressed content compressed with c into a temp
// file in dir, hashing on the way.
func recompress(ctx context.Context, dir string, l v1.Layer, c Compression, level int) (fl *fileLayer, err error) {
	diffID, err := l.DiffID()
	if err != nil {
		return nil, err
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	f, err := os.CreateTemp(dir, "layer-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			os.Remove(f.Name())
			fl = nil
		}
	}()
	h := sha256.New()
	cw := &counter{}
	bw := bufio.NewWriterSize(io.MultiWriter(f, h, cw), 1<<20)
	var zw io.WriteCloser
	switch c {
	case Gzip:
		if level == 0 {
			level = gzip.DefaultCompression
		}
		zw, err = gzip.NewWriterLevel(bw, level)
	case Zstd:
		el := zstd.SpeedDefault
		if level != 0 {
			el = zstd.EncoderLevelFromZstd(level)
		}
		zw, err = zstd.NewWriter(bw, zstd.WithEncoderLevel(el))
	default:
		zw = nopCloser{bw}
	}
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(zw, ctxio.Reader(ctx, rc)); err != nil {
		zw.Close()
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	return &fileLayer{
		path:   f.Name(),
		digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))},
		diffID: diffID,
		size:   cw.n,
		mt:     layerMediaType(c, true), // the caller sets the final media type
	}, nil
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }
