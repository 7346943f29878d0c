package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/builderdev/builder/internal/layer"
)

// zeroTar streams a tar of one file of size zero bytes without holding it.
func zeroTar(size int64) io.Reader {
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		if err := tw.WriteHeader(&tar.Header{Name: "zeros", Typeflag: tar.TypeReg, Mode: 0o644, Size: size}); err != nil {
			pw.CloseWithError(err)
			return
		}
		buf := make([]byte, 1<<20)
		for n := size; n > 0; n -= int64(len(buf)) {
			if _, err := tw.Write(buf[:min(n, int64(len(buf)))]); err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(tw.Close())
	}()
	return pr
}

func TestExtractSizeLimit(t *testing.T) {
	requireRoot(t)
	ctx := context.Background()
	err := Apply(ctx, t.TempDir(), zeroTar(32<<20), WithMaxExtractSize(1<<20))
	if !errors.Is(err, layer.ErrExtractLimit) {
		t.Fatalf("32 MiB with a 1 MiB limit: err = %v", err)
	}
	if !strings.Contains(err.Error(), `extract "zeros": write file: extraction limit reached: extracting over 1048576 bytes`) {
		t.Errorf("error %q does not say what stopped", err)
	}
	if err := Apply(ctx, t.TempDir(), zeroTar(2<<20), WithMaxExtractSize(4<<20)); err != nil {
		t.Fatalf("under the limit: %v", err)
	}

	// the default keeps 5% of the disk free: a file as large as the disk
	// (a bomb) stops, quickly, without filling it
	l := NewLayers(t.TempDir())
	b := mkTar(t, file("small", "x"))
	if _, err := l.Ensure(ctx, diffID(b), opener(b)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	bomb := int64(1) << 50
	err = extract(ctx, t.TempDir(), zeroTar(bomb), whiteoutsAsOverlay, extractOptions{})
	if !errors.Is(err, layer.ErrExtractLimit) || !strings.Contains(err.Error(), "less than 5% free space") {
		t.Fatalf("a 1 PiB file: err = %v", err)
	}
	t.Logf("stopped after %v: %v", time.Since(start), err)
}

func TestExtractNamesOverKernelLimits(t *testing.T) {
	requireRoot(t)
	for _, c := range []struct{ name, want string }{
		{strings.Repeat("n", 5000), "name is 5000 bytes long, over the kernel's limit of 4095"},
		{"a/" + strings.Repeat("c", 256), "path component is 256 bytes long, over the kernel's limit of 255"},
		{strings.Repeat("d/", 2100) + "f", "name is 4201 bytes long"},
	} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		if err := tw.WriteHeader(&tar.Header{Name: c.name, Typeflag: tar.TypeReg, Mode: 0o644, Format: tar.FormatPAX}); err != nil {
			t.Fatal(err)
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- Apply(context.Background(), t.TempDir(), bytes.NewReader(buf.Bytes())) }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%.20s...: err = %v, want %q", c.name, err, c.want)
			}
		case <-time.After(time.Minute):
			t.Fatalf("%.20s...: extraction hangs", c.name)
		}
	}
}
