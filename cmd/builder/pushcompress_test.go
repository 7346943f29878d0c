package main

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/builderdev/builder/exporter"
	"github.com/builderdev/builder/internal/testenv"
	"github.com/builderdev/builder/store"
)

// A build's pushes carry their output's compression options:
// type=image,push=true,compression=zstd puts zstd layers in the registry,
// --push the image as stored; converted layers are kept in the store and
// reused by the next push.
func TestPushTargetsCompression(t *testing.T) {
	reg := testenv.StartRegistry(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("REGISTRY_AUTH_FILE", "")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, name := range []string{"a", "b"} {
		l, err := tarball.LayerFromReader(bytes.NewReader(testenv.BuildTar(t, []testenv.TarEntry{
			{Header: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, ModTime: testenv.Epoch()}, Body: bytes.Repeat([]byte(name), 4096)},
		})), tarball.WithMediaType(types.OCILayer))
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Tag(ctx, "app:1", img); err != nil {
		t.Fatal(err)
	}
	stored, err := st.Image(ctx, "app:1")
	if err != nil {
		t.Fatal(err)
	}
	storedDigest, _ := stored.Digest()

	zref, uref, tag := reg.Ref("app:zstd"), reg.Ref("app:plain"), reg.Ref("app:1")
	outs, err := parseOutputs([]string{
		"type=image,name=" + zref + ",push=true,compression=zstd",
		"type=registry,name=" + uref + ",compression=uncompressed,oci-mediatypes=true",
		"type=image,name=" + reg.Ref("notpushed") + ",compression=zstd",
	})
	if err != nil {
		t.Fatal(err)
	}
	targets, err := pushTargets(true, []string{tag}, outs)
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) != 3 {
		t.Fatalf("%d push targets, want 3", len(targets))
	}
	reg1 := &registryOptions{jobs: 4}
	refs, err := runPushes(ctx, reg1.pusher(nil), st, stored, targets)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(refs, " ") != strings.Join([]string{tag, zref, uref}, " ") {
		t.Errorf("pushed %v", refs)
	}
	layerTypes := func(ref string) (string, []v1.Descriptor) {
		raw := testenv.SkopeoInspect(t, "docker://"+ref, append(reg.SkopeoFlags(""), "--raw")...)
		m, err := v1.ParseManifest(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v\n%s", ref, err, raw)
		}
		h, _, _ := v1.SHA256(bytes.NewReader(raw))
		return h.String(), m.Layers
	}
	for _, tc := range []struct {
		ref, mt string
	}{
		{tag, "application/vnd.oci.image.layer.v1.tar+gzip"},
		{zref, "application/vnd.oci.image.layer.v1.tar+zstd"},
		{uref, "application/vnd.oci.image.layer.v1.tar"},
	} {
		d, ls := layerTypes(tc.ref)
		if len(ls) != 2 {
			t.Fatalf("%s: %d layers", tc.ref, len(ls))
		}
		for i, l := range ls {
			if string(l.MediaType) != tc.mt {
				t.Errorf("%s layer %d: %s, want %s", tc.ref, i, l.MediaType, tc.mt)
			}
		}
		if (d == storedDigest.String()) != (tc.ref == tag) {
			t.Errorf("%s has manifest %s (stored image %s)", tc.ref, d, storedDigest)
		}
		testenv.Skopeo(t, append(append([]string{"copy"}, reg.SkopeoFlags("src-")...), "docker://"+tc.ref, "dir:"+t.TempDir())...)
	}
	// The converted layers are store blobs, recorded once per layer and
	// compression; pushing again reuses them and gives the same manifest.
	recs, _ := os.ReadDir(st.ConversionsDir())
	if len(recs) != 4 {
		t.Errorf("%d conversion records, want 4 (2 layers x zstd, uncompressed)", len(recs))
	}
	zd, zl := layerTypes(zref)
	for _, l := range zl {
		if !st.HasBlob(ctx, l.Digest) {
			t.Errorf("zstd layer %s not kept in the store", l.Digest)
		}
	}
	again := reg.Ref("again:zstd")
	outs, _ = parseOutputs([]string{"type=image,name=" + again + ",push=true,compression=zstd"})
	targets, _ = pushTargets(false, nil, outs)
	if _, err := runPushes(ctx, reg1.pusher(nil), st, stored, targets); err != nil {
		t.Fatal(err)
	}
	if d, _ := layerTypes(again); d != zd {
		t.Errorf("second zstd push gave %s, first %s", d, zd)
	}
	if recs2, _ := os.ReadDir(st.ConversionsDir()); len(recs2) != len(recs) {
		t.Errorf("second push recorded new conversions: %d records", len(recs2))
	}

	if _, err := pushTargets(true, nil, nil); err == nil {
		t.Error("--push without -t accepted")
	}
	// --push without -t is fine when an output names the push.
	if ts, err := pushTargets(true, nil, outs); err != nil || len(ts) != 1 || ts[0].refs[0] != again {
		t.Errorf("--push with a named push output: %v, %v", ts, err)
	}
}

// runPushes runs the exporters of targets, as a build does, and returns
// every ref pushed.
func runPushes(ctx context.Context, p *exporter.Pusher, st *store.Store, img v1.Image, targets []pushTarget) ([]string, error) {
	var refs []string
	for _, e := range pushExporters(p, st, targets) {
		res, err := e.Export(ctx, img)
		for _, x := range res.Pushed {
			refs = append(refs, x.Ref)
		}
		if err != nil {
			return refs, err
		}
	}
	return refs, nil
}
