package imagesize

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// tf is one tar entry of a test layer: a name ending in / is a directory,
// otherwise a file of size bytes.
type tf struct {
	name string
	size int
}

func layerOf(t *testing.T, files ...tf) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, f := range files {
		h := &tar.Header{Name: f.name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(f.size)}
		if strings.HasSuffix(f.name, "/") {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(bytes.Repeat([]byte("x"), int(h.Size))); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func imageOf(t *testing.T, layers ...[]tf) v1.Image {
	t.Helper()
	img := empty.Image
	var adds []mutate.Addendum
	for i, files := range layers {
		adds = append(adds, mutate.Addendum{Layer: layerOf(t, files...), History: v1.History{CreatedBy: fmt.Sprintf("step %d", i+1)}})
	}
	img, err := mutate.Append(img, adds...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// The size report of an image where later layers overwrite a file, delete
// one, hide a directory (opaque) and delete a directory, with an apt list
// left behind; every number worked out by hand.
func TestAnalyzeWastedBytes(t *testing.T) {
	img := imageOf(t,
		[]tf{{"a", 100}, {"b", 200}, {"d/", 0}, {"d/x", 50}, {"d/y", 30},
			{"var/", 0}, {"var/lib/", 0}, {"var/lib/apt/", 0}, {"var/lib/apt/lists/", 0},
			{"var/lib/apt/lists/deb_Packages", 1000}, {"var/lib/apt/lists/lock", 0}},
		[]tf{{"a", 150}, {".wh.b", 0}},
		[]tf{{"d/", 0}, {"d/.wh..wh..opq", 0}, {"d/z", 10}},
		[]tf{{"e/", 0}, {"e/big", 2000}, {"e/small", 5}},
		[]tf{{".wh.e", 0}, {".wh..wh.plnk/", 0}, {".wh..wh.plnk/1.2", 0}},
	)
	rep, err := Analyze(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		CreatedBy                         string
		Size, Replaced, CacheLeft, Wasted int64
		Files                             int
		Caches                            []File
	}
	var gotLayers []got
	for _, l := range rep.Layers {
		gotLayers = append(gotLayers, got{l.CreatedBy, l.Size, l.Replaced, l.CacheLeft, l.Wasted, l.Files, l.Caches})
	}
	want := []got{
		// a (100) overwritten, b (200) deleted, d/x and d/y (80) hidden
		// by the opaque d; the apt list (1000) is left.
		{"step 1", 1380, 380, 1000, 1380, 11, []File{{"/var/lib/apt/lists", 1000}}},
		{"step 2", 150, 0, 0, 0, 2, nil},
		{"step 3", 10, 0, 0, 0, 3, nil},
		{"step 4", 2005, 2005, 0, 2005, 3, nil}, // e deleted by step 5
		{"step 5", 0, 0, 0, 0, 3, nil},          // aufs metadata entries hold no bytes
	}
	if d := cmp.Diff(want, gotLayers); d != "" {
		t.Errorf("layers (-want +got):\n%s", d)
	}
	if rep.Size != 1380+150+10+2005 || rep.Wasted != 1380+2005 {
		t.Errorf("size %d wasted %d, want %d and %d", rep.Size, rep.Wasted, 1380+150+10+2005, 1380+2005)
	}
	// Final: a 150, d/z 10, the apt list 1000.
	if rep.FinalSize != 1160 {
		t.Errorf("final size %d, want 1160", rep.FinalSize)
	}
	// dive's score: per leaf path min/sum of its sizes.
	//   a: 100, 150 → 100/250; b: 200, whiteout of a file 0 → 0/200;
	//   d/x 50/50, d/y 30/30, apt list 1000/1000, lock 0/0, d/z 10/10,
	//   e/big 2000/2000, e/small 5/5; e (whiteout of a dir) counts what
	//   was below it, 2005/2005.
	min := int64(100 + 0 + 50 + 30 + 1000 + 10 + 2000 + 5 + 2005)
	sum := int64(250 + 200 + 50 + 30 + 1000 + 10 + 2000 + 5 + 2005)
	if want := float64(min) / float64(sum); math.Abs(rep.Efficiency-want) > 1e-12 {
		t.Errorf("efficiency %v, want %v", rep.Efficiency, want)
	}
}

// dive ignores opaque markers: a whiteout of a directory counts what was
// below it in all lower layers, hidden or not.
func TestAnalyzeDiveIgnoresOpaque(t *testing.T) {
	img := imageOf(t,
		[]tf{{"d/", 0}, {"d/x", 50}},
		[]tf{{"d/", 0}, {"d/.wh..wh..opq", 0}, {"d/z", 10}},
		[]tf{{".wh.d", 0}},
	)
	rep, err := Analyze(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Layers[0].Replaced != 50 || rep.Layers[1].Replaced != 10 || rep.FinalSize != 0 {
		t.Errorf("replaced %d, %d, final %d; want 50, 10, 0", rep.Layers[0].Replaced, rep.Layers[1].Replaced, rep.FinalSize)
	}
	// d/x 50/50, d/z 10/10, d (whiteout) 60/60: dive scores it 1.
	if rep.Efficiency != 1 {
		t.Errorf("efficiency %v, want 1 (dive's score)", rep.Efficiency)
	}
}

// Layers list their 10 largest regular files, largest first, ties by path.
func TestAnalyzeLargest(t *testing.T) {
	var files []tf
	for i := 1; i <= 12; i++ {
		files = append(files, tf{fmt.Sprintf("f%02d", i), i * 10})
	}
	files = append(files, tf{"tie", 120}, tf{"dir/", 0})
	rep, err := Analyze(context.Background(), imageOf(t, files))
	if err != nil {
		t.Fatal(err)
	}
	want := []File{{"/f12", 120}, {"/tie", 120}, {"/f11", 110}, {"/f10", 100}, {"/f09", 90},
		{"/f08", 80}, {"/f07", 70}, {"/f06", 60}, {"/f05", 50}, {"/f04", 40}}
	if d := cmp.Diff(want, rep.Layers[0].Largest); d != "" {
		t.Errorf("largest (-want +got):\n%s", d)
	}
	if rep.Efficiency != 1 || rep.Wasted != 0 {
		t.Errorf("one layer: efficiency %v wasted %d, want 1 and 0", rep.Efficiency, rep.Wasted)
	}
}

// Package-manager caches are found under their directories (a user's
// home included) and only when they reach the final filesystem.
func TestAnalyzeCaches(t *testing.T) {
	img := imageOf(t,
		[]tf{{"root/.cache/pip/http/x", 70}, {"home/user/.npm/_cacache/y", 30}, {"var/cache/apk/APKINDEX.tar.gz", 40},
			{"var/cache/apt/pkgcache.bin", 25}, {"usr/bin/tool", 500}},
		[]tf{{"var/cache/apk/.wh.APKINDEX.tar.gz", 0}},
	)
	rep, err := Analyze(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	want := []File{{"/root/.cache/pip", 70}, {"/home/user/.npm", 30}, {"/var/cache/apt", 25}}
	if d := cmp.Diff(want, rep.Layers[0].Caches); d != "" {
		t.Errorf("caches (-want +got):\n%s", d)
	}
	if l := rep.Layers[0]; l.CacheLeft != 125 || l.Replaced != 40 || l.Wasted != 165 {
		t.Errorf("cache left %d replaced %d wasted %d, want 125, 40, 165", l.CacheLeft, l.Replaced, l.Wasted)
	}
}

func TestCacheDir(t *testing.T) {
	for p, want := range map[string]string{
		"var/lib/apt/lists/x_Packages": "/var/lib/apt/lists",
		"var/lib/apt/lists":            "",
		"var/lib/apt/listsx/y":         "",
		"home/bob/.cache/pip/z":        "/home/bob/.cache/pip",
		"home/.npm/z":                  "",
		"usr/lib/x":                    "",
	} {
		if got := cacheDir(p); got != want {
			t.Errorf("cacheDir(%q) = %q, want %q", p, got, want)
		}
	}
}

// A canceled context stops the tar loop.
func TestAnalyzeCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Analyze(ctx, imageOf(t, []tf{{"a", 1}})); err == nil {
		t.Fatal("Analyze with a canceled context: no error")
	}
}

// ContentSize is the sum of a layer's file sizes, as Analyze's Size.
func TestContentSize(t *testing.T) {
	l := layerOf(t, tf{"d/", 0}, tf{"d/a", 7}, tf{"b", 5}, tf{".wh.c", 0})
	n, err := ContentSize(context.Background(), l)
	if err != nil || n != 12 {
		t.Errorf("ContentSize = %d, %v; want 12", n, err)
	}
}
