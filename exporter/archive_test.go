package exporter_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/builderdev/builder/exporter"
	"github.com/builderdev/builder/internal/testenv"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func writeFileWith(t *testing.T, fn func(f *os.File) error) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "out.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := fn(f); err != nil {
		f.Close()
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

type inspect struct {
	Digest     string
	Layers     []string
	Os         string
	RepoTags   []string
	LayersData []struct {
		MIMEType string
		Digest   string
	}
}

func skopeoInspect(t *testing.T, ref string) inspect {
	t.Helper()
	var out inspect
	if err := json.Unmarshal(testenv.SkopeoInspect(t, ref), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// archiveHeaders checks the entries are sorted and shaped like containerd's.
func archiveHeaders(t *testing.T, p string) []string {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var names []string
	for _, e := range testenv.TarList(t, f) {
		h := e.Header
		names = append(names, h.Name)
		wantMode := int64(0o444)
		switch {
		case h.Typeflag == tar.TypeDir:
			wantMode = 0o755
		case h.Name == "index.json" || h.Name == "manifest.json":
			wantMode = 0o644
		}
		if h.Mode != wantMode || h.Uid != 0 || h.Gid != 0 || h.ModTime.Unix() != 0 {
			t.Errorf("%s: mode %o uid %d gid %d mtime %v", h.Name, h.Mode, h.Uid, h.Gid, h.ModTime)
		}
		if strings.HasPrefix(h.Name, "blobs/sha256/") && h.Typeflag == tar.TypeReg {
			if got := testenv.CleanTarName(h.Name); !strings.HasSuffix(got, sha(e.Data)) {
				t.Errorf("%s holds content with digest %s", h.Name, sha(e.Data))
			}
		}
	}
	if !sort.StringsAreSorted(names) {
		t.Errorf("entries not sorted: %v", names)
	}
	return names
}

func TestWriteOCI(t *testing.T) {
	ctx := context.Background()
	img := simpleImage(t)
	digest, _ := img.Digest()
	p := writeFileWith(t, func(f *os.File) error { return exporter.WriteOCI(ctx, f, img, "app") })
	names := archiveHeaders(t, p)
	for _, want := range []string{"blobs/", "blobs/sha256/", "index.json", "oci-layout"} {
		if !contains(names, want) {
			t.Errorf("no %s in %v", want, names)
		}
	}
	if contains(names, "manifest.json") {
		t.Error("OCI tar has manifest.json")
	}
	got := skopeoInspect(t, "oci-archive:"+p)
	if got.Digest != digest.String() || len(got.Layers) != 2 || got.Os != "linux" {
		t.Fatalf("skopeo inspect: %+v, want digest %s", got, digest)
	}
	if got := skopeoInspect(t, "oci-archive:"+p+":latest"); got.Digest != digest.String() {
		t.Fatalf("by ref name: %+v", got)
	}
	// index.json as BuildKit writes it.
	dir := testenv.ExtractTar(t, p)
	var idx v1.IndexManifest
	b, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	if err := json.Unmarshal(b, &idx); err != nil || len(idx.Manifests) != 1 {
		t.Fatalf("index.json: %s", b)
	}
	ann := idx.Manifests[0].Annotations
	if ann[exporter.RefNameAnnotation] != "latest" || ann[exporter.ImageNameAnnotation] != "docker.io/library/app:latest" {
		t.Errorf("annotations %v", ann)
	}
	bundle := testenv.UmociUnpack(t, dir, "latest")
	rootfs := filepath.Join(bundle, "rootfs")
	if b, err := os.ReadFile(filepath.Join(rootfs, "home/user/notes")); err != nil || string(b) != "hi" {
		t.Fatalf("notes = %q, %v", b, err)
	}
	if l, err := os.Readlink(filepath.Join(rootfs, "etc/alias")); err != nil || l != "hostname" {
		t.Fatalf("alias -> %q, %v", l, err)
	}
	fi, err := os.Stat(filepath.Join(rootfs, "home/user"))
	if err != nil || fi.Mode().Perm() != 0o700 || owner(fi) != [2]uint32{1000, 1000} {
		t.Fatalf("home/user: %v %v %v", fi.Mode(), owner(fi), err)
	}
}

func TestWriteDocker(t *testing.T) {
	ctx := context.Background()
	img := simpleImage(t)
	cfgName, _ := img.ConfigName()
	diffIDs := func(img v1.Image) []v1.Hash { cf, _ := img.ConfigFile(); return cf.RootFS.DiffIDs }(img)
	p := writeFileWith(t, func(f *os.File) error {
		return exporter.WriteDocker(ctx, f, img, []string{"app", "registry.example.com:5000/team/app:1.2"})
	})
	names := archiveHeaders(t, p)
	if !contains(names, "manifest.json") || !contains(names, "index.json") {
		t.Fatalf("entries %v", names)
	}
	got := skopeoInspect(t, "docker-archive:"+p)
	if len(got.Layers) != 2 || got.Os != "linux" {
		t.Fatalf("skopeo inspect docker-archive: %+v", got)
	}
	raw := testenv.SkopeoInspect(t, "docker-archive:"+p, "--config", "--raw")
	if sha(raw) != cfgName.Hex {
		t.Errorf("config changed: %s", raw)
	}
	dimg, tags := testenv.ReadDockerArchive(t, p)
	if want := []string{"app:latest", "registry.example.com:5000/team/app:1.2"}; strings.Join(tags, ",") != strings.Join(want, ",") {
		t.Errorf("RepoTags %v, want %v", tags, want)
	}
	for i, lf := range dimg.LayerFiles {
		f, _ := os.Open(lf)
		merged := testenv.TarList(t, f)
		f.Close()
		if len(merged) == 0 {
			t.Errorf("layer %d empty", i)
		}
		if sha(uncompressed(t, lf)) != diffIDs[i].Hex {
			t.Errorf("layer %d does not match its diffID", i)
		}
	}
	// The OCI part of the archive has Docker media types.
	dir := testenv.ExtractTar(t, p)
	lay := testenv.ReadLayout(t, dir, "latest")
	if lay.Manifest.MediaType != testenv.MediaTypeDockerManifest || lay.Manifest.Layers[0].MediaType != "application/vnd.docker.image.rootfs.diff.tar.gzip" {
		t.Errorf("media types %s %s", lay.Manifest.MediaType, lay.Manifest.Layers[0].MediaType)
	}
	if lay.Manifest.Config.MediaType != "application/vnd.docker.container.image.v1+json" {
		t.Errorf("config media type %s", lay.Manifest.Config.MediaType)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var _ = bytes.Equal
