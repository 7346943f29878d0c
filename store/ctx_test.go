package store_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/builderdev/builder/store"
)

// Every store method that does I/O takes ctx first and gives up, touching
// nothing, once ctx is done.
func TestCancelledContext(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img := testImage(s, "c", 1)
	if err := s.Tag(ctx, "app", img); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	digest, _ := layers[0].Digest()
	diffID, _ := layers[0].DiffID()
	size, _ := layers[0].Size()
	lease, err := s.Lease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	lw, err := s.NewLayer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lw.Write(emptyTar()); err != nil {
		t.Fatal(err)
	}

	done, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name string
		call func() error
	}{
		{"CreateTemp", func() error { _, err := s.CreateTemp(done, "x-"); return err }},
		{"MkdirTemp", func() error { _, err := s.MkdirTemp(done, "x-"); return err }},
		{"OpenBlob", func() error { _, err := s.OpenBlob(done, digest); return err }},
		{"Layer", func() error { _, err := s.Layer(done, digest, diffID, size, types.OCILayer); return err }},
		{"Image", func() error { _, err := s.Image(done, "app"); return err }},
		{"Images", func() error { _, err := s.Images(done); return err }},
		{"Remove", func() error { return s.Remove(done, "app") }},
		{"Lease.Add", func() error { return lease.Add(done, digest) }},
		{"LayerWriter.Commit", func() error { _, err := lw.Commit(done); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, context.Canceled) {
				t.Fatalf("%s with a cancelled context = %v, want context.Canceled", tc.name, err)
			}
		})
	}
	if s.HasBlob(done, digest) {
		t.Error("HasBlob with a cancelled context = true")
	}
	// Nothing happened: the tag is there, the lease holds nothing, tmp is empty.
	if _, err := s.Image(ctx, "app"); err != nil {
		t.Errorf("tag gone after a cancelled Remove: %v", err)
	}
	if inUse, err := s.InUse(ctx); err != nil || len(inUse) != 0 {
		t.Errorf("InUse after a cancelled Add = %v, %v", inUse, err)
	}
	if ents, _ := os.ReadDir(s.TmpDir()); len(ents) != 0 {
		t.Errorf("tmp not empty: %v", ents)
	}
}
