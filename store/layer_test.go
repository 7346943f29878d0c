package store_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/builderdev/builder/store"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func TestLayerWriter(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		data   []byte
		chunks int
	}{
		{"empty-tar", emptyTar(), 1},
		{"small", layerTar(t, "a", "hello"), 1},
		{"chunked", layerTar(t, "b", string(bytes.Repeat([]byte("0123456789"), 100000))), 7},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lw, err := s.NewLayer(ctx)
			if err != nil {
				t.Fatal(err)
			}
			step := len(tc.data)/tc.chunks + 1
			for off := 0; off < len(tc.data); off += step {
				end := min(off+step, len(tc.data))
				if _, err := lw.Write(tc.data[off:end]); err != nil {
					t.Fatal(err)
				}
			}
			l, err := lw.Commit(ctx)
			if err != nil {
				t.Fatal(err)
			}
			lw.Abort() // no-op after commit
			// Independent computation: diffID over the input, digest and
			// size over the stored blob, which must gunzip to the input.
			wantDiff := v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(tc.data))}
			digest, _ := l.Digest()
			diffID, _ := l.DiffID()
			size, _ := l.Size()
			mt, _ := l.MediaType()
			blob, err := os.ReadFile(s.BlobPath(digest))
			if err != nil {
				t.Fatal(err)
			}
			wantDigest := v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(blob))}
			if diffID != wantDiff || digest != wantDigest || size != int64(len(blob)) || mt != types.OCILayer {
				t.Fatalf("layer = %v %v %d %s; want %v %v %d", digest, diffID, size, mt, wantDigest, wantDiff, len(blob))
			}
			zr, err := gzip.NewReader(bytes.NewReader(blob))
			if err != nil {
				t.Fatal(err)
			}
			plain, err := io.ReadAll(zr)
			if err != nil || !bytes.Equal(plain, tc.data) {
				t.Fatalf("blob does not gunzip to the input: %v", err)
			}
			// Rebuilt from a record, the layer is the same.
			l2, err := s.Layer(ctx, digest, diffID, size, types.OCILayer)
			if err != nil {
				t.Fatal(err)
			}
			rc, err := l2.Uncompressed()
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(got, tc.data) {
				t.Fatal("Uncompressed differs from the input")
			}
			if _, err := s.Layer(ctx, digest, diffID, size+1, types.OCILayer); err == nil {
				t.Fatal("Layer accepted a wrong size")
			}
		})
	}
	if ents, _ := os.ReadDir(s.TmpDir()); len(ents) != 0 {
		t.Fatalf("tmp not empty: %v", ents)
	}
	// Abort leaves nothing behind.
	lw, err := s.NewLayer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lw.Write([]byte("partial"))
	lw.Abort()
	if _, err := lw.Commit(ctx); err == nil {
		t.Fatal("Commit after Abort succeeded")
	}
	if ents, _ := os.ReadDir(s.TmpDir()); len(ents) != 0 {
		t.Fatalf("tmp not empty after abort: %v", ents)
	}
}

func emptyTar() []byte {
	var b bytes.Buffer
	tar.NewWriter(&b).Close()
	return b.Bytes()
}

// noise is a cheap pseudo-random byte stream (xorshift), compressible only a
// little, so a 200 MB layer really produces a large blob.
type noise struct {
	x    uint64
	left int64
}

func (n *noise) Read(p []byte) (int, error) {
	if n.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > n.left {
		p = p[:n.left]
	}
	for i := range p {
		n.x ^= n.x << 13
		n.x ^= n.x >> 7
		n.x ^= n.x << 17
		p[i] = byte(n.x) & 0x3f
	}
	n.left -= int64(len(p))
	return len(p), nil
}

func TestLayerWriterMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("200 MB layer")
	}
	ctx := context.Background()
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	const size = 200 << 20
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
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()

	lw, err := s.NewLayer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	diff := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(lw, diff))
	if err := tw.WriteHeader(&tar.Header{Name: "big", Typeflag: tar.TypeReg, Mode: 0o644, Size: size}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(tw, &noise{x: 88172645463325252, left: size}); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	l, err := lw.Commit(ctx)
	close(done)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	diffID, _ := l.DiffID()
	if diffID.Hex != fmt.Sprintf("%x", diff.Sum(nil)) {
		t.Fatalf("diffID %v differs from independent hash", diffID)
	}
	digest, _ := l.Digest()
	f, err := os.Open(s.BlobPath(digest))
	if err != nil {
		t.Fatal(err)
	}
	h, n, err := v1.SHA256(f)
	f.Close()
	if err != nil || h != digest {
		t.Fatalf("blob digest %v (%d bytes), layer says %v", h, n, digest)
	}
	if sz, _ := l.Size(); sz != n || n < 50<<20 {
		t.Fatalf("blob size %d, layer says %d", n, sz)
	}
	grown := int64(peak.Load()) - int64(base.HeapInuse)
	t.Logf("heap in use grew by %d KiB at peak while writing a %d MiB layer (%d MiB blob)", grown>>10, size>>20, n>>20)
	if grown > 32<<20 {
		t.Fatalf("heap grew by %d MiB writing a layer: not streaming", grown>>20)
	}
}

// badDigestLayer is a v1.Layer whose claimed digest does not match its
// bytes, as a corrupt registry response would be.
type badDigestLayer struct{ v1.Layer }

func (badDigestLayer) Digest() (v1.Hash, error) {
	return v1.NewHash("sha256:" + fmt.Sprintf("%064x", 5))
}

func TestImportLayer(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src, err := staticLayer(layerTar(t, "imp", "imported"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		l, err := s.ImportLayer(ctx, src)
		if err != nil {
			t.Fatal(err)
		}
		d1, _ := l.Digest()
		d2, _ := src.Digest()
		i1, _ := l.DiffID()
		i2, _ := src.DiffID()
		s1, _ := l.Size()
		s2, _ := src.Size()
		if d1 != d2 || i1 != i2 || s1 != s2 || !s.HasBlob(ctx, d1) {
			t.Fatalf("imported %v %v %d, source %v %v %d", d1, i1, s1, d2, i2, s2)
		}
		if _, ok := l.(*store.Layer); !ok {
			t.Fatalf("ImportLayer returned %T", l)
		}
	}
	_, err = s.ImportLayer(ctx, badDigestLayer{src})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("verify blob")) {
		t.Fatalf("ImportLayer of a corrupt layer = %v", err)
	}
	if s.HasBlob(ctx, mustHash("sha256:"+fmt.Sprintf("%064x", 5))) {
		t.Fatal("corrupt blob stored")
	}
	if _, err := s.Layer(ctx, mustHash("sha256:"+fmt.Sprintf("%064x", 6)), v1.Hash{}, 1, ""); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Layer(missing) = %v", err)
	}
}

// A store layer reads back by its media type: zstd, and uncompressed in
// both families (Docker's uncompressed type used to be read as gzip).
func TestLayerUncompressedByMediaType(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := layerTar(t, "m", "by media type")
	var zst bytes.Buffer
	zw, err := zstd.NewWriter(&zst)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(data)
	zw.Close()
	diffID := v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(data))}
	for _, tc := range []struct {
		mt   types.MediaType
		blob []byte
	}{
		{types.OCILayerZStd, zst.Bytes()},
		{types.OCIUncompressedLayer, data},
		{types.DockerUncompressedLayer, data},
	} {
		t.Run(string(tc.mt), func(t *testing.T) {
			digest, size, err := s.WriteBlob(ctx, string(tc.mt), bytes.NewReader(tc.blob))
			if err != nil {
				t.Fatal(err)
			}
			l, err := s.Layer(ctx, digest, diffID, size, tc.mt)
			if err != nil {
				t.Fatal(err)
			}
			rc, err := l.Uncompressed()
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			if cerr := rc.Close(); err == nil {
				err = cerr
			}
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("Uncompressed read %d bytes (%v), want the %d of the tar", len(got), err, len(data))
			}
		})
	}
}
