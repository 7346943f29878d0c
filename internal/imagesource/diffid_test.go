package imagesource

import (
	"context"
	"io"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/builderdev/builder/store"
)

// countingImage counts how often its layers are decompressed or asked to
// compute their diffID.
type countingImage struct {
	v1.Image
	reads *atomic.Int64
}

func (i countingImage) Layers() ([]v1.Layer, error) {
	ls, err := i.Image.Layers()
	for n, l := range ls {
		ls[n] = countingLayer{l, i.reads}
	}
	return ls, err
}

type countingLayer struct {
	v1.Layer
	reads *atomic.Int64
}

func (l countingLayer) DiffID() (v1.Hash, error) { l.reads.Add(1); return l.Layer.DiffID() }
func (l countingLayer) Uncompressed() (io.ReadCloser, error) {
	l.reads.Add(1)
	return l.Layer.Uncompressed()
}

// TestLoadTakesDiffIDsFromConfig: loading a base image takes each layer's
// diffID from the image config, never by decompressing the layer (a build
// from an OCI layout would otherwise read every base layer each time).
func TestLoadTakesDiffIDsFromConfig(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	base, err := random.Image(1000, 3)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := base.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	lease, err := st.Lease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	var reads atomic.Int64
	img, err := New(st).Load(ctx, "base", countingImage{base, &reads}, amd64, lease)
	if err != nil {
		t.Fatal(err)
	}
	if n := reads.Load(); n != 0 {
		t.Errorf("Load decompressed or hashed layers %d times, want 0", n)
	}
	for i, l := range img.Layers {
		if id, err := l.DiffID(); err != nil || id != cfg.RootFS.DiffIDs[i] {
			t.Errorf("layer %d diffID %v (%v), want %v from the config", i, id, err, cfg.RootFS.DiffIDs[i])
		}
	}
}
