package layer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/ulikunitz/xz"
)

// payload is compressible but not trivially so.
func payload() []byte {
	var b bytes.Buffer
	for i := 0; i < 20000; i++ {
		b.WriteString("line ")
		b.WriteByte(byte('a' + i%26))
		b.WriteByte(byte('0' + i%7))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func compress(t *testing.T, data []byte, c Compression, level int) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, c, level)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readAll(t *testing.T, blob []byte, c Compression) []byte {
	t.Helper()
	r, err := NewReader(bytes.NewReader(blob), c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestCodecRoundTrip(t *testing.T) {
	data := payload()
	tests := []struct {
		c     Compression
		level int
		magic []byte // nil: the bytes are the input
	}{
		{Gzip, 0, gzipMagic},
		{Gzip, 1, gzipMagic},
		{Gzip, 9, gzipMagic},
		{Zstd, 0, zstdMagic},
		{Zstd, 1, zstdMagic},
		{Zstd, 19, zstdMagic},
		{Uncompressed, 0, nil},
		{Uncompressed, 5, nil},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s-%d", tc.c, tc.level), func(t *testing.T) {
			blob := compress(t, data, tc.c, tc.level)
			if tc.magic == nil {
				if !bytes.Equal(blob, data) {
					t.Fatal("uncompressed writer changed the bytes")
				}
			} else {
				if !bytes.HasPrefix(blob, tc.magic) {
					t.Fatalf("blob starts %x, want %x", blob[:8], tc.magic)
				}
				if len(blob) >= len(data) {
					t.Errorf("compressed %d bytes into %d", len(data), len(blob))
				}
			}
			if got := readAll(t, blob, tc.c); !bytes.Equal(got, data) {
				t.Fatalf("round trip gave %d bytes, want %d", len(got), len(data))
			}
		})
	}
}

// The store's layer digests depend on the gzip bytes: the default level
// must stay the one gzip.NewWriter uses.
func TestGzipDefaultLevelBytes(t *testing.T) {
	data := payload()
	var want bytes.Buffer
	zw := gzip.NewWriter(&want)
	zw.Write(data)
	zw.Close()
	if got := compress(t, data, Gzip, 0); !bytes.Equal(got, want.Bytes()) {
		t.Error("NewWriter(Gzip, 0) differs from gzip.NewWriter")
	}
	if got := compress(t, data, Gzip, 1); bytes.Equal(got, want.Bytes()) {
		t.Error("level 1 gave the default level's bytes")
	}
}

func TestReadXz(t *testing.T) {
	data := payload()
	var buf bytes.Buffer
	xw, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	xw.Write(data)
	if err := xw.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, buf.Bytes(), Xz); !bytes.Equal(got, data) {
		t.Fatal("xz stream did not decompress to its input")
	}
}

func TestReadBzip2(t *testing.T) {
	data := payload()
	cmd := exec.Command("bzip2", "-c")
	cmd.Stdin = bytes.NewReader(data)
	blob, err := cmd.Output()
	if err != nil {
		t.Fatalf("bzip2: %v", err)
	}
	if got := readAll(t, blob, Bzip2); !bytes.Equal(got, data) {
		t.Fatal("bzip2 stream did not decompress to its input")
	}
}

func TestCodecErrors(t *testing.T) {
	for _, c := range []Compression{Bzip2, Xz, "lz4"} {
		if _, err := NewWriter(io.Discard, c, 0); err == nil {
			t.Errorf("NewWriter(%s) wrote a compression layers do not have", c)
		}
	}
	if _, err := NewReader(strings.NewReader("x"), "lz4"); err == nil {
		t.Error("NewReader(lz4) accepted an unknown compression")
	}
	if _, err := NewReader(strings.NewReader("not gzip at all"), Gzip); err == nil {
		t.Error("NewReader(gzip) accepted bytes that are not gzip")
	}
	if _, err := NewReader(strings.NewReader("not xz at all"), Xz); err == nil {
		t.Error("NewReader(xz) accepted bytes that are not xz")
	}
	if _, err := NewWriter(io.Discard, Gzip, 42); err == nil {
		t.Error("NewWriter(gzip, 42) accepted a level gzip does not have")
	}
}

// closeCounter is a blob whose Close is counted.
type closeCounter struct {
	io.Reader
	n int
}

func (c *closeCounter) Close() error { c.n++; return nil }

func TestOpenUncompressed(t *testing.T) {
	data := payload()
	tests := []struct {
		mt   types.MediaType
		blob []byte
	}{
		{types.OCILayer, compress(t, data, Gzip, 0)},
		{types.DockerLayer, compress(t, data, Gzip, 0)},
		{types.DockerForeignLayer, compress(t, data, Gzip, 0)},
		{types.OCILayerZStd, compress(t, data, Zstd, 0)},
		{types.OCIUncompressedLayer, data},
		{types.OCIUncompressedRestrictedLayer, data},
		{types.DockerUncompressedLayer, data},
		{"application/vnd.example.unknown", compress(t, data, Gzip, 0)}, // unknown: read as gzip
	}
	for _, tc := range tests {
		t.Run(string(tc.mt), func(t *testing.T) {
			blob := &closeCounter{Reader: bytes.NewReader(tc.blob)}
			rc, err := OpenUncompressed(blob, tc.mt)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("read %d bytes (%v), want %d", len(got), err, len(data))
			}
			if blob.n != 0 {
				t.Fatal("blob closed before the reader")
			}
			if err := rc.Close(); err != nil {
				t.Fatal(err)
			}
			if blob.n != 1 {
				t.Errorf("blob closed %d times, want 1", blob.n)
			}
		})
	}
	t.Run("bad blob is closed", func(t *testing.T) {
		blob := &closeCounter{Reader: strings.NewReader("not gzip")}
		if _, err := OpenUncompressed(blob, types.OCILayer); err == nil {
			t.Fatal("a gzip layer that is not gzip opened")
		}
		if blob.n != 1 {
			t.Errorf("blob closed %d times, want 1", blob.n)
		}
	})
}

func TestReadCloser(t *testing.T) {
	want := errors.New("closed")
	rc := ReadCloser(strings.NewReader("abc"), func() error { return want })
	b, _ := io.ReadAll(rc)
	if string(b) != "abc" || rc.Close() != want {
		t.Errorf("ReadCloser read %q, closed with %v", b, rc.Close())
	}
}
