package layer

import (
	"bufio"
	"bytes"
	"io"
)

// magic numbers, as Docker's DecompressStream knows them.
var (
	gzipMagic  = []byte{0x1f, 0x8b, 0x08}
	bzip2Magic = []byte("BZh")
	xzMagic    = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}
	zstdMagic  = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// SniffLen is how many leading bytes Sniff needs to tell every compression.
const SniffLen = 6

// Sniff tells the compression of a stream from its first bytes: gzip,
// bzip2, xz, zstd, or Uncompressed when no magic number matches.
func Sniff(head []byte) Compression {
	switch {
	case bytes.HasPrefix(head, gzipMagic):
		return Gzip
	case bytes.HasPrefix(head, bzip2Magic):
		return Bzip2
	case bytes.HasPrefix(head, xzMagic):
		return Xz
	case bytes.HasPrefix(head, zstdMagic):
		return Zstd
	}
	return Uncompressed
}

// DecompressStream detects the compression of r by its magic bytes, as
// Docker's DecompressStream does, and decompresses it. Closing the result
// releases the decompressor; it does not close r.
func DecompressStream(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, readBuffer)
	head, _ := br.Peek(SniffLen) // a short stream is sniffed as far as it goes
	c := Sniff(head)
	rc, err := NewReader(br, c)
	if err != nil {
		return nil, c, err
	}
	return rc, c, nil
}
