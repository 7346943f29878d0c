package exporter_test

import (
	"archive/tar"
	"context"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/builderdev/builder/exporter"
	"github.com/builderdev/builder/store"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// pattern is an endless, poorly compressible byte stream.
type pattern struct {
	x    uint64
	left int64
}

func (p *pattern) Read(b []byte) (int, error) {
	if p.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.left {
		b = b[:p.left]
	}
	for i := range b {
		p.x ^= p.x << 13
		p.x ^= p.x >> 7
		p.x ^= p.x << 17
		b[i] = byte(p.x)
	}
	p.left -= int64(len(b))
	return len(b), nil
}

func TestOutputsStream(t *testing.T) {
	if testing.Short() {
		t.Skip("large layer")
	}
	ctx := context.Background()
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const size = 64 << 20
	lw, err := s.NewLayer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(lw)
	tw.WriteHeader(&tar.Header{Name: "big", Typeflag: tar.TypeReg, Mode: 0o644, Size: size})
	if _, err := io.Copy(tw, &pattern{x: 1234567, left: size}); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	l, err := lw.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]func(io.Writer) error{
		"oci":    func(w io.Writer) error { return exporter.WriteOCI(ctx, w, img, "big") },
		"docker": func(w io.Writer) error { return exporter.WriteDocker(ctx, w, img, []string{"big"}) },
		"rootfs": func(w io.Writer) error { return exporter.WriteRootfsTar(ctx, w, img) },
		"zstd": func(w io.Writer) error {
			return exporter.WriteOCI(ctx, w, img, "big", exporter.WithCompression(exporter.Zstd, 0), exporter.WithTempDir(t.TempDir()))
		},
	}
	for name, write := range outputs {
		t.Run(name, func(t *testing.T) {
			runtime.GC()
			var base runtime.MemStats
			runtime.ReadMemStats(&base)
			var peak atomic.Uint64
			done := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				var m runtime.MemStats
				for {
					runtime.ReadMemStats(&m)
					if m.HeapInuse > peak.Load() {
						peak.Store(m.HeapInuse)
					}
					select {
					case <-done:
						return
					case <-time.After(10 * time.Millisecond):
					}
				}
			}()
			cw := &countingWriter{}
			err := write(cw)
			close(done)
			wg.Wait()
			if err != nil {
				t.Fatal(err)
			}
			if cw.n < size {
				t.Fatalf("wrote only %d bytes", cw.n)
			}
			grown := int64(peak.Load()) - int64(base.HeapInuse)
			t.Logf("heap grew by %d KiB writing %d MiB", grown>>10, cw.n>>20)
			if grown > 48<<20 {
				t.Fatalf("heap grew by %d MiB: output not streamed", grown>>20)
			}
		})
	}
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
