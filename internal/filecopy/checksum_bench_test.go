package filecopy

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkChecksumWarm is the cache key of a COPY of 2,000 small files
// whose stats the stat cache knows: what a rebuild after a one-file
// change pays for every unchanged file (a walk, stats, the encoding).
func BenchmarkChecksumWarm(b *testing.B) {
	dir := b.TempDir()
	data := make([]byte, 1024)
	for d := 0; d < 20; d++ {
		for f := 0; f < 100; f++ {
			p := filepath.Join(dir, fmt.Sprintf("d%03d", d), fmt.Sprintf("f%05d", f))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				b.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	sc, err := OpenStatCache(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	req := Request{Src: DirFS(dir, nil), Sources: []string{"."}, DestPath: "/ctx/", StatCache: sc}
	ctx := context.Background()
	if _, err := Checksum(ctx, req); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := ChecksumFiles(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
