package layer

import (
	"bufio"
	"compress/bzip2"
	"fmt"
	"io"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/ulikunitz/xz"
)

// readBuffer is the read-ahead given to decompressors of unbuffered readers.
const readBuffer = 1 << 16

// NewReader decompresses r, compressed with c. Closing the result releases
// the decompressor; it does not close r.
func NewReader(r io.Reader, c Compression) (io.ReadCloser, error) {
	if c == Uncompressed {
		return io.NopCloser(r), nil
	}
	if _, ok := r.(io.ByteReader); !ok {
		r = bufio.NewReaderSize(r, readBuffer)
	}
	switch c {
	case Gzip:
		z, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("open gzip stream: %w", err)
		}
		return z, nil
	case Zstd:
		d, err := zstd.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("open zstd stream: %w", err)
		}
		return ReadCloser(d, func() error { d.Close(); return nil }), nil
	case Bzip2:
		return io.NopCloser(bzip2.NewReader(r)), nil
	case Xz:
		x, err := xz.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("open xz stream: %w", err)
		}
		return io.NopCloser(x), nil
	}
	return nil, fmt.Errorf("open %q stream: unknown compression", c)
}

// OpenUncompressed decompresses the blob rc of a layer of media type mt (a
// media type this package does not know is read as gzip). Closing the
// result closes the decompressor and rc; on error rc is closed.
func OpenUncompressed(rc io.ReadCloser, mt types.MediaType) (io.ReadCloser, error) {
	c, ok := CompressionOf(mt)
	if !ok {
		c = Gzip
	}
	d, err := NewReader(rc, c)
	if err != nil {
		rc.Close()
		return nil, err
	}
	return ReadCloser(d, func() error {
		derr := d.Close()
		if err := rc.Close(); err != nil {
			return err
		}
		return derr
	}), nil
}

// NewWriter compresses what is written to it with c at level (0: the
// compressor's default) into w. Close flushes the compressor; it does not
// close w. Only layer compressions (Gzip, Zstd, Uncompressed) are written.
func NewWriter(w io.Writer, c Compression, level int) (io.WriteCloser, error) {
	switch c {
	case Gzip:
		if level == 0 {
			level = gzip.DefaultCompression
		}
		z, err := gzip.NewWriterLevel(w, level)
		if err != nil {
			return nil, fmt.Errorf("create gzip writer: %w", err)
		}
		return z, nil
	case Zstd:
		el := zstd.SpeedDefault
		if level != 0 {
			el = zstd.EncoderLevelFromZstd(level)
		}
		z, err := zstd.NewWriter(w, zstd.WithEncoderLevel(el))
		if err != nil {
			return nil, fmt.Errorf("create zstd writer: %w", err)
		}
		return z, nil
	case Uncompressed:
		return nopWriteCloser{w}, nil
	}
	return nil, fmt.Errorf("create %q writer: not a layer compression", c)
}

// ReadCloser joins a reader with the function that closes what is under
// it.
func ReadCloser(r io.Reader, close func() error) io.ReadCloser {
	return readCloser{Reader: r, close: close}
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
