package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/builderdev/builder/internal/testenv"
	"github.com/builderdev/builder/store"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestDefaultRoot(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		euid int
		want string
	}{
		{"explicit", map[string]string{"BUILDER_ROOT": "/x/y", "HOME": "/home/u"}, 1000, "/x/y"},
		{"root", map[string]string{"HOME": "/root"}, 0, "/var/lib/builder"},
		{"xdg", map[string]string{"XDG_DATA_HOME": "/d", "HOME": "/home/u"}, 1000, "/d/builder"},
		{"home", map[string]string{"HOME": "/home/u"}, 1000, "/home/u/.local/share/builder"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := store.DefaultRoot(func(k string) string { return tc.env[k] }, tc.euid)
			if got != tc.want {
				t.Errorf("DefaultRoot = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNormalizeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"app", "app:latest"},
		{"app:1.2", "app:1.2"},
		{"docker.io/library/app", "app:latest"},
		{"docker.io/team/app:v1", "team/app:v1"},
		{"localhost:5000/app", "localhost:5000/app:latest"},
		{"ghcr.io/org/app:sha", "ghcr.io/org/app:sha"},
		{"app@sha256:" + fmt.Sprintf("%064x", 1), "app@sha256:" + fmt.Sprintf("%064x", 1)},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := store.NormalizeName(tc.in)
			if err != nil || got != tc.want {
				t.Errorf("NormalizeName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
	if _, err := store.NormalizeName(""); err == nil {
		t.Error("empty name accepted")
	}
}

func TestOpenLayout(t *testing.T) {
	root := t.TempDir()
	if _, err := store.Open(root); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"oci/blobs/sha256", "layers", "cache", "tmp", "locks"} {
		if fi, err := os.Stat(filepath.Join(root, d)); err != nil || !fi.IsDir() {
			t.Errorf("%s: not a directory: %v", d, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(root, "oci", "oci-layout"))
	if err != nil || string(b) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout = %q, %v", b, err)
	}
	if idx := checkStore(t, root); len(idx.Manifests) != 0 || idx.SchemaVersion != 2 {
		t.Errorf("fresh index = %+v", idx)
	}
	// Opening again keeps what is there.
	if _, err := store.Open(root); err != nil {
		t.Fatal(err)
	}
}

func TestWriteBlob(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := []byte(`{"hello":"world"}`)
	want := v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(data))}
	for i := 0; i < 2; i++ { // idempotent
		h, n, err := s.WriteBlob(ctx, string(types.OCIConfigJSON), bytes.NewReader(data))
		if err != nil || h != want || n != int64(len(data)) {
			t.Fatalf("WriteBlob = %v, %d, %v; want %v", h, n, err, want)
		}
	}
	if !s.HasBlob(ctx, want) {
		t.Fatal("HasBlob = false")
	}
	fi, err := os.Stat(s.BlobPath(want))
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Fatalf("blob mode %v, %v", fi.Mode(), err)
	}
	rc, err := s.OpenBlob(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) {
		t.Fatalf("OpenBlob = %q", got)
	}
	missing := mustHash("sha256:" + fmt.Sprintf("%064x", 9))
	if _, err := s.OpenBlob(ctx, missing); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("OpenBlob(missing) = %v, want ErrNotFound", err)
	}
	if ents, _ := os.ReadDir(s.TmpDir()); len(ents) != 0 {
		t.Fatalf("tmp not empty: %v", ents)
	}
	// A cancelled context stops the write and leaves nothing behind.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.WriteBlob(cctx, "x", bytes.NewReader(data)); !errors.Is(err, context.Canceled) {
		t.Fatalf("WriteBlob(cancelled) = %v", err)
	}
	if ents, _ := os.ReadDir(s.TmpDir()); len(ents) != 0 {
		t.Fatalf("tmp not empty after cancel: %v", ents)
	}
}

func TestTagImageRemove(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		img   v1.Image
		query []string
	}{
		{"app", testImage(s, "a", 2), []string{"app", "app:latest", "docker.io/library/app:latest"}},
		{"team/app:1.2", testImage(nil, "b", 3), []string{"team/app:1.2", "docker.io/team/app:1.2"}},
		{"scratch", testImage(nil, "c", 0), []string{"scratch"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Tag(ctx, tc.name, tc.img); err != nil {
				t.Fatal(err)
			}
			wantDigest, _ := tc.img.Digest()
			wantLayers, _ := tc.img.Layers()
			for _, q := range append(tc.query, wantDigest.String()) {
				got, err := s.Image(ctx, q)
				if err != nil {
					t.Fatalf("Image(%q): %v", q, err)
				}
				if d, _ := got.Digest(); d != wantDigest {
					t.Fatalf("Image(%q) digest %v, want %v", q, d, wantDigest)
				}
				ls, err := got.Layers()
				if err != nil || len(ls) != len(wantLayers) {
					t.Fatalf("layers %d, %v", len(ls), err)
				}
				for i, l := range ls {
					wd, _ := wantLayers[i].DiffID()
					gd, _ := l.DiffID()
					if gd != wd {
						t.Fatalf("layer %d diffID %v, want %v", i, gd, wd)
					}
					rc, err := l.Uncompressed()
					if err != nil {
						t.Fatal(err)
					}
					h, _, err := v1.SHA256(rc)
					rc.Close()
					if err != nil || h != wd {
						t.Fatalf("layer %d uncompressed sha %v, %v", i, h, err)
					}
				}
			}
		})
	}
	checkStore(t, root)

	infos, err := s.Images(ctx)
	if err != nil || len(infos) != 3 {
		t.Fatalf("Images = %v, %v", infos, err)
	}
	m, _ := tests[1].img.Manifest()
	wantSize := m.Config.Size
	for _, l := range m.Layers {
		wantSize += l.Size
	}
	if infos[1].Name != "team/app:1.2" || infos[1].Size != wantSize || !infos[1].Created.Equal(testenv.Epoch()) {
		t.Errorf("Images()[1] = %+v, want size %d", infos[1], wantSize)
	}

	// Re-tagging replaces the entry.
	if err := s.Tag(ctx, "app:latest", tests[1].img); err != nil {
		t.Fatal(err)
	}
	idx := checkStore(t, root)
	count := 0
	for _, d := range idx.Manifests {
		if d.Annotations[store.RefNameAnnotation] == "app:latest" {
			count++
			if want, _ := tests[1].img.Digest(); d.Digest != want {
				t.Errorf("app:latest points at %v", d.Digest)
			}
			if d.Platform == nil || d.Platform.Architecture != "amd64" || d.Platform.OS != "linux" {
				t.Errorf("platform %+v", d.Platform)
			}
		}
	}
	if count != 1 || len(idx.Manifests) != 3 {
		t.Fatalf("after retag: %d app:latest entries, %d total", count, len(idx.Manifests))
	}

	if err := s.Remove(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Image(ctx, "app"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Image after Remove = %v", err)
	}
	if err := s.Remove(ctx, "app"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second Remove = %v", err)
	}
	// Blobs stay for prune: still reachable by digest.
	d, _ := tests[0].img.Digest()
	if _, err := s.Image(ctx, d.String()); err != nil {
		t.Fatalf("Image by digest after untag: %v", err)
	}
}

func TestRealClients(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	img := testImage(s, "real", 2)
	if err := s.Tag(ctx, "app", img); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(ctx, "other:v1", testImage(nil, "other", 1)); err != nil {
		t.Fatal(err)
	}
	out := testenv.SkopeoInspect(t, "oci:"+s.OCIDir()+":app:latest")
	d, _ := img.Digest()
	if !bytes.Contains(out, []byte(d.String())) || !bytes.Contains(out, []byte(`"amd64"`)) {
		t.Fatalf("skopeo inspect: %s", out)
	}
	bundle := testenv.UmociUnpack(t, s.OCIDir(), "app:latest")
	for i, want := range []string{"real0", "real1"} {
		p := filepath.Join(bundle, "rootfs", "data", fmt.Sprintf("f%d", i))
		b, err := os.ReadFile(p)
		if err != nil || string(b) != want {
			t.Fatalf("%s = %q, %v", p, b, err)
		}
		fi, _ := os.Lstat(p)
		if st := fileOwner(fi); st != [2]uint32{1000, 1000} || fi.Mode().Perm() != 0o644 {
			t.Errorf("%s: owner %v mode %v", p, st, fi.Mode())
		}
	}
}

func TestCancelledLock(t *testing.T) {
	root := t.TempDir()
	s, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	startHelper(t, "hold-lock", root, "some/build")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := s.Lock(ctx, "some/build"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock held elsewhere = %v, want deadline exceeded", err)
	}
	unlock, err := s.Lock(context.Background(), "other")
	if err != nil {
		t.Fatal(err)
	}
	unlock()
}
