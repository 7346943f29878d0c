package store_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/builderdev/builder/internal/testenv"
	"github.com/builderdev/builder/store"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The test binary doubles as a helper process: with STORE_HELPER set it
// runs one helper action against STORE_ROOT and exits.
func TestMain(m *testing.M) {
	if action := os.Getenv("STORE_HELPER"); action != "" {
		if err := runHelper(action, os.Getenv("STORE_ROOT"), os.Getenv("STORE_ARG")); err != nil {
			fmt.Fprintln(os.Stderr, "helper:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func runHelper(action, root, arg string) error {
	ctx := context.Background()
	s, err := store.Open(root)
	if err != nil {
		return err
	}
	switch action {
	case "tag":
		// Tag shared and own images many times, racing the other helpers.
		for i := 0; i < 10; i++ {
			if err := tagPair(ctx, s, arg, i); err != nil {
				return err
			}
		}
		return nil
	case "hang-layer":
		// Leave a half-written layer and a held lease, then wait to be killed.
		lw, err := s.NewLayer(ctx)
		if err != nil {
			return err
		}
		if _, err := lw.Write(bytes.Repeat([]byte("x"), 1<<20)); err != nil {
			return err
		}
		l, err := s.Lease(ctx)
		if err != nil {
			return err
		}
		if err := l.Add(ctx, mustHash("sha256:"+fmt.Sprintf("%064x", 7))); err != nil {
			return err
		}
		fmt.Println("ready")
		time.Sleep(time.Minute)
		// Until killed, the lease and the layer must stay reachable: a
		// collected *os.File is closed by its finalizer, which would drop
		// the lease's flock while this process still lives.
		runtime.KeepAlive(l)
		runtime.KeepAlive(lw)
		return nil
	case "hold-lock":
		unlock, err := s.Lock(ctx, arg)
		if err != nil {
			return err
		}
		defer unlock()
		fmt.Println("ready")
		time.Sleep(time.Minute)
		return nil
	}
	return fmt.Errorf("unknown helper action %q", action)
}

// tagPair tags one image shared by everybody and one of worker's own.
func tagPair(ctx context.Context, s *store.Store, worker string, i int) error {
	shared := testImage(nil, "shared", 1)
	if err := s.Tag(ctx, "shared", shared); err != nil {
		return err
	}
	own := testImage(nil, worker+"-"+strconv.Itoa(i), 2)
	return s.Tag(ctx, "img-"+worker+":"+strconv.Itoa(i%3), own)
}

// helperCmd prepares the test binary as a helper process.
func helperCmd(t *testing.T, action, root, arg string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "STORE_HELPER="+action, "STORE_ROOT="+root, "STORE_ARG="+arg)
	cmd.Stderr = os.Stderr
	return cmd
}

// startHelper starts a helper and waits until it prints "ready". The helper
// is killed at cleanup.
func startHelper(t *testing.T, action, root, arg string) *exec.Cmd {
	t.Helper()
	cmd := helperCmd(t, action, root, arg)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	buf := make([]byte, 6)
	if _, err := out.Read(buf); err != nil || string(buf) != "ready\n" {
		t.Fatalf("helper %s did not get ready: %q %v", action, buf, err)
	}
	return cmd
}

func mustHash(s string) v1.Hash {
	h, err := v1.NewHash(s)
	if err != nil {
		panic(err)
	}
	return h
}

// layerTar builds an uncompressed layer tar with one file of the given content.
func layerTar(t testing.TB, name, content string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	must(tw.WriteHeader(&tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: testenv.Epoch()}))
	must(tw.WriteHeader(&tar.Header{Name: "data/" + name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(content)), Uid: 1000, Gid: 1000, ModTime: testenv.Epoch()}))
	_, err := tw.Write([]byte(content))
	must(err)
	must(tw.Close())
	return buf.Bytes()
}

// testImage builds an OCI image of n layers whose content depends on seed,
// with the layers written through s (or ggcr in-memory layers if s is nil).
func testImage(s *store.Store, seed string, n int) v1.Image {
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	var adds []mutate.Addendum
	for i := 0; i < n; i++ {
		data := layerTar(nil, fmt.Sprintf("f%d", i), seed+strconv.Itoa(i))
		var l v1.Layer
		var err error
		if s != nil {
			lw, err2 := s.NewLayer(context.Background())
			if err2 != nil {
				panic(err2)
			}
			if _, err2 := lw.Write(data); err2 != nil {
				panic(err2)
			}
			l, err = lw.Commit(context.Background())
		} else {
			l, err = staticLayer(data)
		}
		if err != nil {
			panic(err)
		}
		adds = append(adds, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: "test " + seed, Created: v1.Time{Time: testenv.Epoch()}}})
	}
	img, err := mutate.Append(img, adds...)
	if err != nil {
		panic(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		panic(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: testenv.Epoch()}
	cf.Config.Cmd = []string{"/bin/sh"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		panic(err)
	}
	return img
}

// checkStore verifies that index.json parses and that every blob any entry
// needs exists with the right digest and size.
func checkStore(t *testing.T, root string) *v1.IndexManifest {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "oci", "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	idx, err := v1.ParseIndexManifest(f)
	if err != nil {
		t.Fatalf("index.json invalid: %v", err)
	}
	for _, d := range idx.Manifests {
		m := readJSONBlob[v1.Manifest](t, root, d)
		checkBlob(t, root, m.Config)
		for _, l := range m.Layers {
			checkBlob(t, root, l)
		}
	}
	return idx
}

func staticLayer(data []byte) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithMediaType(types.OCILayer))
}

// checkBlob verifies a blob exists and matches its descriptor.
func checkBlob(t *testing.T, root string, d v1.Descriptor) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "oci", "blobs", d.Digest.Algorithm, d.Digest.Hex))
	if err != nil {
		t.Fatalf("blob of %s: %v", d.MediaType, err)
	}
	if int64(len(b)) != d.Size {
		t.Fatalf("blob %s: size %d, descriptor says %d", d.Digest, len(b), d.Size)
	}
	if got := fmt.Sprintf("%x", sha256.Sum256(b)); got != d.Digest.Hex {
		t.Fatalf("blob %s: content digest %s", d.Digest, got)
	}
	return b
}

func readJSONBlob[T any](t *testing.T, root string, d v1.Descriptor) *T {
	t.Helper()
	var v T
	if err := json.Unmarshal(checkBlob(t, root, d), &v); err != nil {
		t.Fatalf("blob %s: %v", d.Digest, err)
	}
	return &v
}
