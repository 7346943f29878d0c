package store

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/klauspost/pgzip"

	"github.com/builderdev/builder/internal/layer"
)

// LayerWriter takes the UNCOMPRESSED tar of a new layer. It gzips the bytes
// as they come, hashing both sides in the same pass (diffID and digest),
// into a temp file; Commit renames it into the blob store. Compression is
// parallel (pgzip, 1 MiB blocks, as many at once as the store's CPU
// limiter has slots); the writer holds one slot of that limiter from its
// first Write to Commit or Abort. Memory use does not depend on the size of
// the layer.
type LayerWriter struct {
	ctx     context.Context
	s       *Store
	blob    *blobFile
	buf     *bufio.Writer
	zw      io.WriteCloser // gzip
	diff    hash.Hash
	size    int64 // compressed bytes
	closed  bool
	err     error
	release func() // the CPU slot, once taken
}

// gzipBlock is pgzip's block size: each block is compressed on its own
// goroutine (with the previous block as dictionary, so the output does not
// depend on timing).
const gzipBlock = 1 << 20

// NewLayer starts writing a new layer. Call Commit or Abort.
func (s *Store) NewLayer(ctx context.Context) (*LayerWriter, error) {
	f, err := s.CreateTemp(ctx, "layer-")
	if err != nil {
		return nil, fmt.Errorf("new layer: %w", err)
	}
	lw := &LayerWriter{ctx: ctx, s: s, blob: &blobFile{f: f, h: sha256.New()}, diff: sha256.New()}
	lw.buf = bufio.NewWriterSize(countWriter{lw.blob, &lw.size}, 1<<20)
	zw, err := pgzip.NewWriterLevel(lw.buf, pgzip.DefaultCompression)
	if err == nil {
		err = zw.SetConcurrency(gzipBlock, max(s.cpu.Size(), 1))
	}
	if err != nil {
		lw.Abort()
		return nil, fmt.Errorf("new layer: %w", err)
	}
	lw.zw = zw
	return lw, nil
}

type countWriter struct {
	w io.Writer
	n *int64
}

func (c countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}

// Write adds uncompressed tar bytes to the layer.
func (w *LayerWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, errors.New("write layer: already committed or aborted")
	}
	if err := w.ctx.Err(); err != nil {
		w.err = fmt.Errorf("write layer: %w", err)
		return 0, w.err
	}
	if w.release == nil {
		release, err := w.s.cpu.Acquire(w.ctx, 1)
		if err != nil {
			w.err = fmt.Errorf("write layer: %w", err)
			return 0, w.err
		}
		w.release = release
	}
	n, err := w.zw.Write(p)
	w.diff.Write(p[:n])
	if err != nil {
		w.err = fmt.Errorf("write layer: %w", err)
	}
	return n, w.err
}

// Commit finishes the layer, stores its blob and returns it as a v1.Layer
// (OCI gzip media type) backed by the store. A done ctx makes it fail
// (and drop the layer) before the blob is renamed into place.
func (w *LayerWriter) Commit(ctx context.Context) (v1.Layer, error) {
	if w.closed {
		return nil, errors.New("commit layer: already committed or aborted")
	}
	defer w.Abort()
	if w.err != nil {
		return nil, w.err
	}
	if err := w.zw.Close(); err != nil {
		return nil, fmt.Errorf("commit layer: %w", err)
	}
	if err := w.buf.Flush(); err != nil {
		return nil, fmt.Errorf("commit layer: %w", err)
	}
	digest, err := w.blob.commit(ctx, w.s, nil)
	if err != nil {
		return nil, fmt.Errorf("commit layer: %w", err)
	}
	diffID := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(w.diff.Sum(nil))}
	return &Layer{s: w.s, digest: digest, diffID: diffID, size: w.size, mediaType: layer.MediaType(layer.Gzip, true)}, nil
}

// Abort drops the layer being written. It is a no-op after Commit.
func (w *LayerWriter) Abort() {
	if w.closed {
		return
	}
	w.closed = true
	if w.release != nil {
		w.release()
	}
	if z, ok := w.zw.(*pgzip.Writer); ok && z != nil {
		z.Close() // stops its goroutines; the temp file goes anyway
	}
	w.blob.abort()
}

// Layer is a layer whose compressed blob is in the store. It implements
// v1.Layer.
type Layer struct {
	s         *Store
	digest    v1.Hash
	diffID    v1.Hash
	size      int64
	mediaType types.MediaType
}

var _ v1.Layer = (*Layer)(nil)

// Layer rebuilds a store-backed layer from recorded facts (for example a
// cache record). The blob must be present with the given size.
func (s *Store) Layer(ctx context.Context, digest, diffID v1.Hash, size int64, mediaType types.MediaType) (v1.Layer, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("load layer %s: %w", digest, err)
	}
	fi, err := os.Stat(s.BlobPath(digest))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("load layer %s: %w", digest, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load layer %s: %w", digest, err)
	}
	if fi.Size() != size {
		return nil, fmt.Errorf("load layer %s: blob size %d, recorded %d", digest, fi.Size(), size)
	}
	if mediaType == "" {
		mediaType = layer.MediaType(layer.Gzip, true)
	}
	return &Layer{s: s, digest: digest, diffID: diffID, size: size, mediaType: mediaType}, nil
}

// ImportLayer saves the compressed blob of l (for example a layer of a
// remote base image) into the store, verifying its digest, and returns the
// store-backed layer. A layer already present is not fetched again.
func (s *Store) ImportLayer(ctx context.Context, l v1.Layer) (v1.Layer, error) {
	digest, err := l.Digest()
	if err != nil {
		return nil, fmt.Errorf("import layer: %w", err)
	}
	diffID, err := l.DiffID()
	if err != nil {
		return nil, fmt.Errorf("import layer: %w", err)
	}
	mt, err := l.MediaType()
	if err != nil {
		return nil, fmt.Errorf("import layer: %w", err)
	}
	reused, err := s.ReuseBlob(ctx, digest)
	if err != nil {
		return nil, fmt.Errorf("import layer %s: %w", digest, err)
	}
	if !reused {
		rc, err := l.Compressed()
		if err != nil {
			return nil, fmt.Errorf("import layer %s: %w", digest, err)
		}
		_, _, err = s.writeBlob(ctx, rc, &digest)
		if cerr := rc.Close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("import layer %s: %w", digest, err)
		}
	}
	fi, err := os.Stat(s.BlobPath(digest))
	if err != nil {
		return nil, fmt.Errorf("import layer %s: %w", digest, err)
	}
	return &Layer{s: s, digest: digest, diffID: diffID, size: fi.Size(), mediaType: mt}, nil
}

// Digest returns the sha256 of the compressed blob.
func (l *Layer) Digest() (v1.Hash, error) { return l.digest, nil }

// DiffID returns the sha256 of the uncompressed tar.
func (l *Layer) DiffID() (v1.Hash, error) { return l.diffID, nil }

// Size returns the size of the compressed blob.
func (l *Layer) Size() (int64, error) { return l.size, nil }

// MediaType returns the layer's media type.
func (l *Layer) MediaType() (types.MediaType, error) { return l.mediaType, nil }

// Path returns the file holding the compressed blob.
func (l *Layer) Path() string { return l.s.BlobPath(l.digest) }

// Compressed opens the blob.
func (l *Layer) Compressed() (io.ReadCloser, error) { return l.s.openBlob(l.digest) }

// Uncompressed opens the blob and decompresses it (gzip, zstd or none,
// by media type; see layer.OpenUncompressed).
func (l *Layer) Uncompressed() (io.ReadCloser, error) {
	rc, err := l.s.openBlob(l.digest)
	if err != nil {
		return nil, err
	}
	u, err := layer.OpenUncompressed(rc, l.mediaType)
	if err != nil {
		return nil, fmt.Errorf("decompress layer %s: %w", l.digest, err)
	}
	return u, nil
}
