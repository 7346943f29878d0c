package exporter

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/builderdev/builder/internal/testenv"
	"github.com/builderdev/builder/registry"
)

// archImage is pushImage(seed) for linux/arch.
func archImage(t *testing.T, seed, arch string) v1.Image {
	t.Helper()
	img := pushImage(t, seed+" "+arch)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Architecture = arch
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// attestedPlatforms is a 2-platform build whose images both have
// attestations.
func attestedPlatforms(t *testing.T, seed string) []PlatformImage {
	t.Helper()
	var out []PlatformImage
	for _, arch := range []string{"amd64", "arm64"} {
		a := testAttestations()
		out = append(out, PlatformImage{Platform: v1.Platform{OS: "linux", Architecture: arch}, Image: archImage(t, seed, arch), Attestations: &a})
	}
	return out
}

// checkPlatformAttestations checks idx holds the images of imgs, in
// order, then one attestation manifest per image (BuildKit's layout):
// unknown/unknown, referring to that image's manifest as written in idx,
// its statements' subjects named after names with that image's platform.
func checkPlatformAttestations(t *testing.T, idx v1.ImageIndex, n int, names ...string) {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != types.OCIImageIndex || len(im.Manifests) != 2*n {
		t.Fatalf("index %s of %d manifests, want an OCI index of %d", im.MediaType, len(im.Manifests), 2*n)
	}
	for i := 0; i < n; i++ {
		imgDesc, attDesc := im.Manifests[i], im.Manifests[n+i]
		if imgDesc.MediaType != types.OCIManifestSchema1 || imgDesc.Platform == nil || imgDesc.Platform.OS != "linux" {
			t.Errorf("entry %d: %+v, want an OCI image manifest for linux", i, imgDesc)
			continue
		}
		img, err := idx.Image(imgDesc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		// The pair alone is what checkAttestedIndex knows how to read.
		pair := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex),
			mutate.IndexAddendum{Add: img, Descriptor: imgDesc})
		att, err := idx.Image(attDesc.Digest)
		if err != nil {
			t.Fatal(err)
		}
		pair = mutate.AppendManifests(pair, mutate.IndexAddendum{Add: att, Descriptor: attDesc})
		var subjects []string
		for _, nm := range names {
			subjects = append(subjects, subjectName(nm, *imgDesc.Platform))
		}
		if len(names) == 0 {
			subjects = []string{"_"}
		}
		checkAttestedIndexFor(t, pair, img, imgDesc.Platform.Architecture, subjects...)
	}
}

// TestBuildIndexAttestations: each platform's attestation manifest refers
// to that platform's manifest as converted (here to zstd, and OCI media
// types although Docker ones were asked for, as BuildKit forces them),
// and an image without attestations gets none.
func TestBuildIndexAttestations(t *testing.T) {
	ctx := testCtx(t)
	imgs := attestedPlatforms(t, "index")
	for _, opts := range [][]Option{nil, {WithOCIMediaTypes(false)}, {WithCompression(Zstd, 0), WithOCIMediaTypes(false)}} {
		idx, release, err := BuildIndex(ctx, imgs, opts...)
		if err != nil {
			t.Fatal(err)
		}
		checkPlatformAttestations(t, idx, 2)
		release()
	}
	// Only the arm64 image has attestations: one attestation manifest, last.
	mixed := append([]PlatformImage{}, imgs...)
	mixed[0].Attestations = nil
	idx, release, err := BuildIndex(ctx, mixed)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	im, _ := idx.IndexManifest()
	if len(im.Manifests) != 3 || im.Manifests[2].Annotations["vnd.docker.reference.digest"] != im.Manifests[1].Digest.String() {
		t.Errorf("index of one attested image: %+v", im.Manifests)
	}
}

// TestOCITarAttested: a type=oci tar of one image with attestations has
// index.json -> the index of the image and its attestation manifest;
// skopeo picks the image out of it and umoci unpacks it. ExportIndex of
// two platforms puts both attestation manifests in.
func TestOCITarAttested(t *testing.T) {
	ctx := testCtx(t)
	img := pushImage(t, "oci-attested")
	dest := filepath.Join(t.TempDir(), "app.tar")
	var e Exporter = NewOCITar(File(dest), "app:1")
	ae, ok := e.(AttestingExporter)
	if !ok {
		t.Fatal("OCITar is not an AttestingExporter")
	}
	if _, err := ae.ExportAttested(ctx, img, testAttestations()); err != nil {
		t.Fatal(err)
	}
	dir := testenv.ExtractTar(t, dest)
	idx := layoutIndex(t, dir)
	checkAttestedIndex(t, idx, img, "pkg:docker/app@1?platform=linux%2Famd64")
	want, _ := img.Digest()
	var insp struct{ Architecture string }
	if err := json.Unmarshal(testenv.SkopeoInspect(t, "oci-archive:"+dest), &insp); err != nil || insp.Architecture != "amd64" {
		t.Errorf("skopeo inspect: %+v %v", insp, err)
	}
	// umoci 0.4.7 finds two manifests under the tag (it calls that
	// ambiguous, as for any BuildKit tar with attestations); skopeo picks
	// the image for this platform out of the index into a layout umoci
	// unpacks.
	picked := filepath.Join(t.TempDir(), "picked")
	testenv.Skopeo(t, "copy", "-q", "oci-archive:"+dest, "oci:"+picked+":app")
	bundle := testenv.UmociUnpack(t, picked, "app")
	if b, err := os.ReadFile(filepath.Join(bundle, "rootfs", "etc", "layer1")); err != nil || string(b) != "app oci-attested" {
		t.Errorf("umoci unpack: etc/layer1 = %q, %v (image %s)", b, err, want)
	}

	// Two platforms.
	dest2 := filepath.Join(t.TempDir(), "multi.tar")
	if _, err := NewOCITar(File(dest2), "app:2").ExportIndex(ctx, attestedPlatforms(t, "oci")); err != nil {
		t.Fatal(err)
	}
	checkPlatformAttestations(t, layoutIndex(t, testenv.ExtractTar(t, dest2)), 2, "app:2")
	out := testenv.SkopeoInspect(t, "oci-archive:"+dest2, "--override-arch", "arm64", "--config")
	if !strings.Contains(string(out), `"architecture": "arm64"`) {
		t.Errorf("skopeo: arm64 config %s", out)
	}
}

// TestPushIndexAttested: a 2-platform push with attestations, to two
// repositories through one Pusher: with the subjects named alike the
// second push is the same index, and it mounts every blob of the first
// (attestation layers too) and uploads none; the tag names the index.
func TestPushIndexAttested(t *testing.T) {
	reg := testenv.StartRegistry(t)
	p := newProxy(t, reg)
	ctx := testCtx(t)
	imgs := attestedPlatforms(t, "push")
	for _, pi := range imgs {
		pi.Attestations.Names = []string{"app:1"}
	}
	pu := NewPusher(WithRegistryOptions(registry.WithKeychain(anonymous), registry.WithCertsDir("")))
	first, second := p.host()+"/library/base:1", p.host()+"/team/app:1"
	e1 := pu.Exporter([]string{first}).(IndexExporter)
	e2 := pu.Exporter([]string{second}).(IndexExporter)
	r1, err := e1.ExportIndex(ctx, imgs)
	if err != nil {
		t.Fatal(err)
	}
	before := len(p.requests())
	r2, err := e2.ExportIndex(ctx, imgs)
	if err != nil {
		t.Fatal(err)
	}
	var mounts, uploads int
	var manifestPuts []string
	for _, r := range p.requests()[before:] {
		switch {
		case strings.HasPrefix(r, "POST /v2/team/app/blobs/uploads/") && strings.Contains(r, "mount="):
			mounts++
		case strings.HasPrefix(r, "PATCH ") || strings.HasPrefix(r, "PUT /v2/team/app/blobs/"):
			uploads++
		case strings.HasPrefix(r, "PUT /v2/team/app/manifests/"):
			manifestPuts = append(manifestPuts, strings.TrimPrefix(r, "PUT /v2/team/app/manifests/"))
		}
	}
	// 2 images of 2 layers and a config; 2 attestation manifests of 2
	// layers each, with one config blob between them (mounted once or
	// once for each, as the uploads race).
	if mounts < 11 || mounts > 12 || uploads != 0 {
		t.Errorf("mounts=%d uploads=%d, want 11 or 12 and 0; requests:\n%s", mounts, uploads, strings.Join(p.requests()[before:], "\n"))
	}
	// The index goes by digest, then by tag, last.
	if n := len(manifestPuts); n < 2 || !strings.HasPrefix(manifestPuts[n-2], "sha256:") || !strings.HasPrefix(manifestPuts[n-1], "1") {
		t.Errorf("manifest puts %v: want the index by digest, then the tag", manifestPuts)
	}
	if len(r1.Pushed) != 1 || len(r2.Pushed) != 1 || r1.Pushed[0].Digest != r2.Pushed[0].Digest {
		t.Fatalf("pushed %+v %+v", r1.Pushed, r2.Pushed)
	}
	idx := remoteIndex(t, reg.Ref("team/app:1"))
	if d, _ := idx.Digest(); d != r2.Pushed[0].Digest {
		t.Errorf("registry has %s, pushed %s", d, r2.Pushed[0].Digest)
	}
	checkPlatformAttestations(t, idx, 2, "app:1")
}

// layoutIndex is the index that the one entry of dir's index.json names.
func layoutIndex(t *testing.T, dir string) v1.ImageIndex {
	t.Helper()
	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].MediaType != types.OCIImageIndex {
		t.Fatalf("index.json %+v: want one image index", im.Manifests)
	}
	idx, err := top.ImageIndex(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}
