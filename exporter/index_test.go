package exporter_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/builderdev/builder/exporter"
	"github.com/builderdev/builder/internal/testenv"
	"github.com/builderdev/builder/registry"
)

// platformImages returns two images with different content for
// linux/amd64 and linux/arm64.
func platformImages(t *testing.T) []exporter.PlatformImage {
	t.Helper()
	var out []exporter.PlatformImage
	for _, arch := range []string{"amd64", "arm64"} {
		img := buildImage(t, []testenv.TarEntry{dir("etc/", 0o755, 0), file("etc/arch", arch+"\n", 0o644, 0),
			file("etc/shared", "same\n", 0o644, 0), hardlink("etc/link", "etc/arch")})
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.Architecture = arch
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		out = append(out, exporter.PlatformImage{Platform: v1.Platform{OS: "linux", Architecture: arch}, Image: img})
	}
	return out
}

type rawIndex struct {
	MediaType string `json:"mediaType"`
	Manifests []struct {
		MediaType string       `json:"mediaType"`
		Digest    string       `json:"digest"`
		Platform  *v1.Platform `json:"platform"`
	} `json:"manifests"`
}

func (r rawIndex) platforms() string {
	var out []string
	for _, m := range r.Manifests {
		out = append(out, m.MediaType+" "+m.Platform.OS+"/"+m.Platform.Architecture)
	}
	return strings.Join(out, ", ")
}

// TestBuildIndexMediaTypes: an OCI index of OCI manifests by default, a
// Docker manifest list of Docker manifests with oci-mediatypes=false.
func TestBuildIndexMediaTypes(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		opts     []exporter.Option
		idx, man types.MediaType
	}{
		{nil, types.OCIImageIndex, types.OCIManifestSchema1},
		{[]exporter.Option{exporter.WithOCIMediaTypes(false)}, types.DockerManifestList, types.DockerManifestSchema2},
		{[]exporter.Option{exporter.WithOCIMediaTypes(false), exporter.WithCompression(exporter.Zstd, 0)}, types.OCIImageIndex, types.OCIManifestSchema1},
	} {
		idx, release, err := exporter.BuildIndex(ctx, platformImages(t), tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := idx.RawManifest()
		if err != nil {
			t.Fatal(err)
		}
		var ri rawIndex
		if err := json.Unmarshal(raw, &ri); err != nil {
			t.Fatal(err)
		}
		want := string(tc.man) + " linux/amd64, " + string(tc.man) + " linux/arm64"
		if ri.MediaType != string(tc.idx) || ri.platforms() != want {
			t.Errorf("index %s: %s; want %s: %s", ri.MediaType, ri.platforms(), tc.idx, want)
		}
		release()
	}
	if _, _, err := exporter.BuildIndex(ctx, nil); err == nil {
		t.Error("an index of no images built")
	}
}

// TestWriteOCIIndex: skopeo reads the tar as an index and picks each
// platform's image out of it.
func TestWriteOCIIndex(t *testing.T) {
	ctx := context.Background()
	imgs := platformImages(t)
	idx, release, err := exporter.BuildIndex(ctx, imgs)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	var buf bytes.Buffer
	if err := exporter.WriteOCIIndex(ctx, &buf, idx, "app:1"); err != nil {
		t.Fatal(err)
	}
	tarFile := filepath.Join(t.TempDir(), "app.tar")
	if err := os.WriteFile(tarFile, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var ri rawIndex
	if err := json.Unmarshal(testenv.SkopeoInspect(t, "oci-archive:"+tarFile, "--raw"), &ri); err != nil {
		t.Fatal(err)
	}
	if ri.MediaType != string(types.OCIImageIndex) || len(ri.Manifests) != 2 {
		t.Fatalf("skopeo --raw: %+v", ri)
	}
	idxDigest, _ := idx.Digest()
	for i, arch := range []string{"amd64", "arm64"} {
		var insp struct {
			Architecture, Digest string
			Layers               []string
		}
		out := testenv.SkopeoInspect(t, "oci-archive:"+tarFile, "--override-arch", arch)
		if err := json.Unmarshal(out, &insp); err != nil {
			t.Fatal(err)
		}
		// skopeo names the index's digest and the chosen image's layers.
		ls, _ := imgs[i].Image.Layers()
		want, _ := ls[0].Digest()
		if insp.Architecture != arch || insp.Digest != idxDigest.String() || len(insp.Layers) != 1 || insp.Layers[0] != want.String() {
			t.Errorf("%s: skopeo sees %+v, want layer %s of index %s", arch, insp, want, idxDigest)
		}
	}
	// index.json has one entry, the index, named as BuildKit names it.
	dir := testenv.ExtractTar(t, tarFile)
	var top v1.IndexManifest
	raw, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	if len(top.Manifests) != 1 || top.Manifests[0].Digest != d || top.Manifests[0].Annotations[exporter.RefNameAnnotation] != "1" ||
		top.Manifests[0].Annotations[exporter.ImageNameAnnotation] != "docker.io/library/app:1" {
		t.Errorf("index.json = %s", raw)
	}
}

// TestPushIndex: the registry gets the index and both images.
func TestPushIndex(t *testing.T) {
	reg := testenv.StartRegistry(t)
	ctx := context.Background()
	idx, release, err := exporter.BuildIndex(ctx, platformImages(t))
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	got, err := exporter.PushIndex(ctx, idx, reg.Ref("multi:1"), registry.WithKeychain(authn.NewMultiKeychain()), registry.WithCertsDir(""))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := idx.Digest()
	if got != want {
		t.Errorf("pushed %s, index %s", got, want)
	}
	var ri rawIndex
	if err := json.Unmarshal(testenv.SkopeoInspect(t, "docker://"+reg.Ref("multi:1"), append(reg.SkopeoFlags(""), "--raw")...), &ri); err != nil {
		t.Fatal(err)
	}
	if ri.platforms() != "application/vnd.oci.image.manifest.v1+json linux/amd64, application/vnd.oci.image.manifest.v1+json linux/arm64" {
		t.Errorf("registry index: %s", ri.platforms())
	}
	out := testenv.SkopeoInspect(t, "docker://"+reg.Ref("multi:1"), append(reg.SkopeoFlags(""), "--override-arch", "arm64", "--config")...)
	if !strings.Contains(string(out), `"architecture": "arm64"`) {
		t.Errorf("arm64 config from the registry: %s", out)
	}
}

// TestWriteRootfsTarPlatforms: one directory per platform, hardlinks
// pointing inside their own platform's directory.
func TestWriteRootfsTarPlatforms(t *testing.T) {
	var buf bytes.Buffer
	if err := exporter.WriteRootfsTarPlatforms(context.Background(), &buf, platformImages(t)); err != nil {
		t.Fatal(err)
	}
	files := testenv.TarFiles(t, &buf)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	want := "linux_amd64 linux_amd64/etc linux_amd64/etc/arch linux_amd64/etc/link linux_amd64/etc/shared " +
		"linux_arm64 linux_arm64/etc linux_arm64/etc/arch linux_arm64/etc/link linux_arm64/etc/shared"
	if strings.Join(names, " ") != want {
		t.Fatalf("entries %v", names)
	}
	if string(files["linux_arm64/etc/arch"].Data) != "arm64\n" || string(files["linux_amd64/etc/arch"].Data) != "amd64\n" {
		t.Errorf("arch files: %q %q", files["linux_amd64/etc/arch"].Data, files["linux_arm64/etc/arch"].Data)
	}
	if l := files["linux_arm64/etc/link"].Header.Linkname; l != "linux_arm64/etc/arch" {
		t.Errorf("hardlink target %q", l)
	}
}

// TestIndexExporters: type=local writes a directory per platform;
// type=docker refuses several platforms, naming them.
func TestIndexExporters(t *testing.T) {
	ctx := context.Background()
	imgs := platformImages(t)
	dir := filepath.Join(t.TempDir(), "out")
	if _, err := exporter.NewLocalDir(dir).ExportIndex(ctx, imgs); err != nil {
		t.Fatal(err)
	}
	for _, arch := range []string{"amd64", "arm64"} {
		b, err := os.ReadFile(filepath.Join(dir, "linux_"+arch, "etc", "arch"))
		if err != nil || string(b) != arch+"\n" {
			t.Errorf("linux_%s/etc/arch = %q, %v", arch, b, err)
		}
	}
	dest := filepath.Join(t.TempDir(), "d.tar")
	_, err := exporter.NewDockerTar(exporter.File(dest), []string{"app"}).ExportIndex(ctx, imgs)
	if err == nil || !strings.Contains(err.Error(), "type=docker cannot hold a multi-platform image (linux/amd64, linux/arm64)") {
		t.Errorf("docker tar of 2 platforms: %v", err)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Errorf("docker tar written anyway: %v", err)
	}
}
