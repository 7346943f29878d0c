package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkExtractSmallFiles extracts a layer of 2,000 files of 1 KiB in
// 20 directories, as W1's COPY of the context makes.
func BenchmarkExtractSmallFiles(b *testing.B) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	when := time.Unix(1700000000, 0)
	data := bytes.Repeat([]byte("x"), 1024)
	for d := 0; d < 20; d++ {
		dir := fmt.Sprintf("ctx/d%03d/", d)
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: when}); err != nil {
			b.Fatal(err)
		}
		for f := 0; f < 100; f++ {
			h := &tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("%sf%05d", dir, f), Mode: 0o644, Size: int64(len(data)), ModTime: when}
			if err := tw.WriteHeader(h); err != nil {
				b.Fatal(err)
			}
			if _, err := tw.Write(data); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	root := b.TempDir()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dir := filepath.Join(root, fmt.Sprint(i))
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := extract(context.Background(), dir, bytes.NewReader(buf.Bytes()), whiteoutsAsOverlay, extractOptions{maxSize: -1}); err != nil {
			b.Fatal(err)
		}
	}
}
