package layer

import (
	"bytes"
	"io"
	"testing"

	"github.com/ulikunitz/xz"
)

func TestSniff(t *testing.T) {
	tests := []struct {
		name string
		head []byte
		want Compression
	}{
		{"gzip", []byte{0x1f, 0x8b, 0x08, 0, 0, 0}, Gzip},
		{"gzip, 3 bytes", []byte{0x1f, 0x8b, 0x08}, Gzip},
		{"gzip magic without deflate", []byte{0x1f, 0x8b, 0x07, 0, 0, 0}, Uncompressed},
		{"bzip2", []byte("BZh91AY"), Bzip2},
		{"xz", []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}, Xz},
		{"xz cut short", []byte{0xfd, '7', 'z', 'X', 'Z'}, Uncompressed},
		{"zstd", []byte{0x28, 0xb5, 0x2f, 0xfd, 0x04}, Zstd},
		{"tar", []byte("etc/passwd\x00\x00"), Uncompressed},
		{"text", []byte("just text"), Uncompressed},
		{"empty", nil, Uncompressed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Sniff(tc.head); got != tc.want {
				t.Errorf("Sniff(%x) = %s, want %s", tc.head, got, tc.want)
			}
		})
	}
}

func TestDecompressStream(t *testing.T) {
	data := payload()
	var xzBuf bytes.Buffer
	xw, _ := xz.NewWriter(&xzBuf)
	xw.Write(data)
	xw.Close()
	tests := []struct {
		name string
		blob []byte
		want Compression
	}{
		{"gzip", compress(t, data, Gzip, 0), Gzip},
		{"zstd", compress(t, data, Zstd, 0), Zstd},
		{"xz", xzBuf.Bytes(), Xz},
		{"none", data, Uncompressed},
		{"short", []byte("ab"), Uncompressed},
		{"empty", nil, Uncompressed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := data
			if tc.want == Uncompressed {
				want = tc.blob
			}
			rc, c, err := DecompressStream(bytes.NewReader(tc.blob))
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if c != tc.want {
				t.Errorf("compression %s, want %s", c, tc.want)
			}
			got, err := io.ReadAll(rc)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("read %d bytes (%v), want %d", len(got), err, len(want))
			}
		})
	}
	t.Run("gzip magic, broken stream", func(t *testing.T) {
		if _, c, err := DecompressStream(bytes.NewReader([]byte{0x1f, 0x8b, 0x08, 1, 2})); err == nil {
			t.Errorf("a broken %s stream opened", c)
		}
	})
}
