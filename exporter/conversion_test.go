package exporter_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/exporter"
	"github.com/builderdev/builder/internal/testenv"
	"github.com/builderdev/builder/registry"
	"github.com/builderdev/builder/store"
)

// countingImage counts how often a layer's content is read uncompressed,
// which is what recompressing it does.
type countingImage struct {
	v1.Image
	reads *atomic.Int64
	// gate, if set, runs when a layer is opened uncompressed and when the
	// reader is closed (open=false).
	gate func(open bool)
}

type countingLayer struct {
	v1.Layer
	img *countingImage
}

func (c *countingImage) Layers() ([]v1.Layer, error) {
	ls, err := c.Image.Layers()
	if err != nil {
		return nil, err
	}
	out := make([]v1.Layer, len(ls))
	for i, l := range ls {
		out[i] = &countingLayer{Layer: l, img: c}
	}
	return out, nil
}

func (l *countingLayer) Uncompressed() (io.ReadCloser, error) {
	l.img.reads.Add(1)
	rc, err := l.Layer.Uncompressed()
	if err != nil || l.img.gate == nil {
		return rc, err
	}
	l.img.gate(true)
	return gatedReader{rc, l.img.gate}, nil
}

type gatedReader struct {
	io.ReadCloser
	gate func(bool)
}

func (g gatedReader) Close() error { g.gate(false); return g.ReadCloser.Close() }

func manyLayerImage(t *testing.T, n int) v1.Image {
	var layers [][]testenv.TarEntry
	for i := 0; i < n; i++ {
		body := bytes.Repeat([]byte{byte('a' + i)}, 64<<10)
		layers = append(layers, []testenv.TarEntry{dir("data/", 0o755, 0), file("data/f"+string(rune('0'+i)), string(body), 0o644, 0)})
	}
	return buildImage(t, layers...)
}

// With a store a layer is compressed once: exporting it again with the
// same compression and level reuses the kept blob and gives the same
// bytes; another level, or a pruned blob, compresses again.
func TestStoreReusesConversions(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img := &countingImage{Image: manyLayerImage(t, 3), reads: new(atomic.Int64)}
	tmp := t.TempDir()
	export := func(opts ...exporter.Option) []byte {
		t.Helper()
		var buf bytes.Buffer
		opts = append([]exporter.Option{exporter.WithStore(st), exporter.WithTempDir(tmp)}, opts...)
		if err := exporter.WriteOCI(ctx, &buf, img, "app:1", opts...); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	zstd3 := exporter.WithCompression(exporter.Zstd, 3)
	first := export(zstd3)
	if n := img.reads.Load(); n != 3 {
		t.Fatalf("first export compressed %d layers, want 3", n)
	}
	second := export(zstd3)
	if n := img.reads.Load(); n != 3 {
		t.Errorf("second export compressed again (%d reads, want 3)", n)
	}
	if !bytes.Equal(first, second) {
		t.Error("second export differs from the first")
	}
	// Docker media types over the same blobs: still no compression.
	var dbuf bytes.Buffer
	if err := exporter.WriteDocker(ctx, &dbuf, img, []string{"app:1"}, exporter.WithStore(st), exporter.WithCompression(exporter.Gzip, 9), exporter.WithForceCompression()); err != nil {
		t.Fatal(err)
	}
	if n := img.reads.Load(); n != 6 {
		t.Fatalf("gzip-9 export: %d reads, want 6", n)
	}
	if err := exporter.WriteOCI(ctx, io.Discard, img, "", exporter.WithStore(st), exporter.WithCompression(exporter.Gzip, 9), exporter.WithForceCompression(), exporter.WithOCIMediaTypes(true)); err != nil {
		t.Fatal(err)
	}
	if n := img.reads.Load(); n != 6 {
		t.Errorf("gzip-9 again with OCI types: %d reads, want 6", n)
	}

	// The written image is a valid one with zstd layers.
	p := writeFileWith(t, func(f *os.File) error { _, err := f.Write(second); return err })
	dir := testenv.ExtractTar(t, p)
	lay := testenv.ReadLayout(t, dir, "1")
	cf, _ := img.ConfigFile()
	for i, l := range lay.Manifest.Layers {
		if l.MediaType != "application/vnd.oci.image.layer.v1.tar+zstd" {
			t.Errorf("layer %d media type %s", i, l.MediaType)
		}
		if got := sha(uncompressed(t, lay.LayerFiles[i])); got != cf.RootFS.DiffIDs[i].Hex {
			t.Errorf("layer %d content does not match its diffID", i)
		}
		h, _ := v1.NewHash(l.Digest)
		if !st.HasBlob(ctx, h) {
			t.Errorf("converted layer %s not kept in the store", l.Digest)
		}
	}

	// A prune that takes the converted blobs: the next export compresses
	// again, to the same bytes.
	for _, l := range lay.Manifest.Layers {
		h, _ := v1.NewHash(l.Digest)
		if err := os.Remove(st.BlobPath(h)); err != nil {
			t.Fatal(err)
		}
	}
	third := export(zstd3)
	if n := img.reads.Load(); n != 9 {
		t.Errorf("after the blobs went: %d reads, want 9", n)
	}
	if !bytes.Equal(first, third) {
		t.Error("export after recompressing differs")
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("temp files left with a store: %v", ents)
	}
	if ents, _ := os.ReadDir(st.TmpDir()); len(ents) != 0 {
		t.Errorf("store tmp entries left: %v", ents)
	}
}

// Layers are recompressed concurrently, at most GOMAXPROCS at once.
func TestRecompressInParallel(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	if procs < 2 {
		t.Skip("needs GOMAXPROCS >= 2")
	}
	for _, withStore := range []bool{false, true} {
		name := "temp"
		if withStore {
			name = "store"
		}
		t.Run(name, func(t *testing.T) {
			var mu sync.Mutex
			open, peak := 0, 0
			both := make(chan struct{})
			var once sync.Once
			gate := func(o bool) {
				mu.Lock()
				if o {
					open++
					if open > peak {
						peak = open
					}
					if open == 2 {
						once.Do(func() { close(both) })
					}
				} else {
					open--
				}
				mu.Unlock()
				if o {
					// Hold each layer until two are open at once: serial
					// compression never gets there and times out.
					select {
					case <-both:
					case <-time.After(10 * time.Second):
					}
				}
			}
			n := procs + 2
			img := &countingImage{Image: manyLayerImage(t, n), reads: new(atomic.Int64), gate: gate}
			opts := []exporter.Option{exporter.WithCompression(exporter.Zstd, 0), exporter.WithTempDir(t.TempDir())}
			if withStore {
				st, err := store.Open(t.TempDir())
				if err != nil {
					t.Fatal(err)
				}
				opts = append(opts, exporter.WithStore(st))
			}
			start := time.Now()
			if err := exporter.WriteOCI(context.Background(), io.Discard, img, "", opts...); err != nil {
				t.Fatal(err)
			}
			if peak < 2 || peak > procs {
				t.Errorf("%d layers compressed at once, want 2..%d", peak, procs)
			}
			if time.Since(start) > 9*time.Second {
				t.Errorf("layers compressed one at a time")
			}
			if got := img.reads.Load(); got != int64(n) {
				t.Errorf("%d layers compressed, want %d", got, n)
			}
		})
	}
}

// Convert gives the image Push sends: zstd layers land in the registry as
// such, and a second push of the same layers compresses nothing.
func TestPushConverted(t *testing.T) {
	reg := testenv.StartRegistry(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img := &countingImage{Image: manyLayerImage(t, 2), reads: new(atomic.Int64)}
	// No options: the image itself, as stored.
	same, release, err := exporter.Convert(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	release()
	if same != v1.Image(img) {
		t.Error("Convert without options changed the image")
	}
	var digests []v1.Hash
	for _, ref := range []string{reg.Ref("app:zstd"), reg.Ref("other:zstd")} {
		conv, release, err := exporter.Convert(ctx, img, exporter.WithStore(st), exporter.WithCompression(exporter.Zstd, 0))
		if err != nil {
			t.Fatal(err)
		}
		d, err := exporter.Push(ctx, conv, ref, registry.WithKeychain(authn.NewMultiKeychain()), registry.WithCertsDir(""))
		release()
		if err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
		digests = append(digests, d)
		raw := testenv.SkopeoInspect(t, "docker://"+ref, append(reg.SkopeoFlags(""), "--raw")...)
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("parse pushed manifest: %v\n%s", err, raw)
		}
		if m.MediaType != "application/vnd.oci.image.manifest.v1+json" || len(m.Layers) != 2 {
			t.Fatalf("pushed manifest:\n%s", raw)
		}
		for i, l := range m.Layers {
			if l.MediaType != "application/vnd.oci.image.layer.v1.tar+zstd" {
				t.Errorf("%s layer %d is %s", ref, i, l.MediaType)
			}
		}
		// A client pulls and decompresses it.
		testenv.Skopeo(t, append(append([]string{"copy"}, reg.SkopeoFlags("src-")...), "docker://"+ref, "dir:"+t.TempDir())...)
	}
	if digests[0] != digests[1] {
		t.Errorf("two pushes of one image gave %s and %s", digests[0], digests[1])
	}
	if n := img.reads.Load(); n != 2 {
		t.Errorf("%d layer compressions for two pushes, want 2", n)
	}
}
