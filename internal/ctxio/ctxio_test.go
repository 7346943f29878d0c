package ctxio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReader(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := Reader(ctx, strings.NewReader("hello"))
	buf := make([]byte, 2)
	if n, err := r.Read(buf); n != 2 || err != nil {
		t.Fatalf("read = %d, %v", n, err)
	}
	cancel()
	if _, err := io.ReadAll(r); !errors.Is(err, context.Canceled) {
		t.Errorf("read after cancel: %v", err)
	}
}

// TestCopy: Copy copies everything, stops once ctx is done, reports a
// short write, and allocates no buffer per call (a layer copies file by
// file).
func TestCopy(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 50_000) // several buffers' worth
	var out bytes.Buffer
	n, err := Copy(context.Background(), &out, bytes.NewReader(data))
	if err != nil || n != int64(len(data)) || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("Copy = %d, %v; copied %d of %d bytes", n, err, out.Len(), len(data))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Copy(ctx, io.Discard, bytes.NewReader(data)); !errors.Is(err, context.Canceled) {
		t.Errorf("Copy with a done context: %v, want context.Canceled", err)
	}
	if _, err := Copy(context.Background(), shortWriter{}, bytes.NewReader(data)); !errors.Is(err, io.ErrShortWrite) {
		t.Errorf("Copy to a short writer: %v, want io.ErrShortWrite", err)
	}
	small := []byte("a small file")
	r := bytes.NewReader(small)
	allocs := testing.AllocsPerRun(100, func() {
		r.Reset(small)
		if _, err := Copy(context.Background(), io.Discard, r); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 0 {
		t.Errorf("Copy of a small file allocates %v times", allocs)
	}
}

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }
