package store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/builderdev/builder/internal/cpulimit"
	"github.com/builderdev/builder/store"
)

// TestLayerWriterTakesACPUSlot: compressing a layer waits for a slot of
// the store's CPU limiter, and gives it back on Commit; the layer's
// parallel gzip reads back as what was written.
func TestLayerWriterTakesACPUSlot(t *testing.T) {
	l := cpulimit.New(1)
	st, err := store.Open(t.TempDir(), store.WithCPULimiter(l))
	if err != nil {
		t.Fatal(err)
	}
	if st.CPU() != l {
		t.Fatal("CPU() is not the limiter given")
	}
	release, err := l.Acquire(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	w, err := st.NewLayer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Write with every slot taken = %v, want it to wait until the deadline", err)
	}
	w.Abort()
	release()

	data := bytes.Repeat([]byte("0123456789abcdef"), 300_000) // ~4.8 MB: several pgzip blocks
	w, err = st.NewLayer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	layer, err := w.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// The slot is free again.
	r2, err := l.Acquire(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	r2()
	rc, err := layer.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("layer reads back %d bytes (%v), want the %d written", len(got), err, len(data))
	}
}
