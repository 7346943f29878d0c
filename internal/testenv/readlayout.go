package testenv

import (
	"archive/tar"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Image is an image read back from an OCI layout or a Docker archive,
// without any of builder's code.
type Image struct {
	// ManifestDigest is the digest of the manifest ("" for Docker archives).
	ManifestDigest string
	Manifest       Manifest
	// ConfigRaw is the config blob exactly as stored (Healthcheck etc. kept).
	ConfigRaw []byte
	Config    ImageConfig
	// LayerFiles are the layer blob files, bottom first.
	LayerFiles []string
}

// ImageConfig is the part of an image config the tests look at. Config is
// kept as a generic map so that absent keys can be told from empty ones.
type ImageConfig struct {
	Created      string           `json:"created"`
	Author       string           `json:"author"`
	Architecture string           `json:"architecture"`
	OS           string           `json:"os"`
	Variant      string           `json:"variant"`
	Config       map[string]any   `json:"config"`
	RootFS       RootFS           `json:"rootfs"`
	History      []map[string]any `json:"history"`
}

// RootFS lists the layers' diffIDs.
type RootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

// Layers opens the layer blobs (bottom first); the caller closes them.
func (img *Image) Layers(t testing.TB) []io.Reader {
	t.Helper()
	var rs []io.Reader
	for _, f := range img.LayerFiles {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatalf("open layer: %v", err)
		}
		t.Cleanup(func() { fh.Close() })
		rs = append(rs, fh)
	}
	return rs
}

// RootFS merges the layers into the image's file system by cleaned name.
func (img *Image) RootFS(t testing.TB) map[string]TarFile {
	t.Helper()
	return MergeLayers(t, img.Layers(t)...)
}

// ReadLayout reads the image tagged tag from an OCI image layout dir. With
// tag "" the layout must hold exactly one top-level entry. An index entry is
// followed to its linux manifest for this machine's architecture (or the
// only one).
func ReadLayout(t testing.TB, dir, tag string) *Image {
	t.Helper()
	return ReadLayoutPlatform(t, dir, tag, goarch())
}

// ReadLayoutPlatform is ReadLayout that follows an index to the linux
// manifest for arch ("arm64", "amd64").
func ReadLayoutPlatform(t testing.TB, dir, tag, arch string) *Image {
	t.Helper()
	var idx Index
	readJSON(t, filepath.Join(dir, "index.json"), &idx)
	var desc *Descriptor
	for i, d := range idx.Manifests {
		if tag == "" || d.Annotations[refNameAnnotation] == tag || strings.HasSuffix(d.Annotations[refNameAnnotation], ":"+tag) {
			if desc != nil {
				t.Fatalf("layout %s: more than one manifest matches tag %q", dir, tag)
			}
			desc = &idx.Manifests[i]
		}
	}
	if desc == nil {
		t.Fatalf("layout %s: no manifest for tag %q in %+v", dir, tag, idx.Manifests)
	}
	for desc.MediaType == MediaTypeIndex || desc.MediaType == MediaTypeDockerList {
		var sub Index
		readJSON(t, blobFile(dir, desc.Digest), &sub)
		var pick *Descriptor
		for i, d := range sub.Manifests {
			if len(sub.Manifests) == 1 || (d.Platform != nil && d.Platform.OS == "linux" && d.Platform.Architecture == arch) {
				pick = &sub.Manifests[i]
				break
			}
		}
		if pick == nil {
			t.Fatalf("layout %s: index %s has no manifest for linux/%s", dir, desc.Digest, arch)
		}
		desc = pick
	}
	img := &Image{ManifestDigest: desc.Digest}
	readJSON(t, blobFile(dir, desc.Digest), &img.Manifest)
	img.ConfigRaw = readFile(t, blobFile(dir, img.Manifest.Config.Digest))
	if err := json.Unmarshal(img.ConfigRaw, &img.Config); err != nil {
		t.Fatalf("decode config: %v", err)
	}
	for _, l := range img.Manifest.Layers {
		img.LayerFiles = append(img.LayerFiles, blobFile(dir, l.Digest))
	}
	return img
}

// ReadDockerArchive reads the single image of a `docker save` style tar
// (manifest.json with Config, RepoTags, Layers); it returns the image and
// its RepoTags.
func ReadDockerArchive(t testing.TB, tarFile string) (*Image, []string) {
	t.Helper()
	dir := ExtractTar(t, tarFile)
	var m []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}
	readJSON(t, filepath.Join(dir, "manifest.json"), &m)
	if len(m) != 1 {
		t.Fatalf("docker archive %s: %d images in manifest.json, want 1", tarFile, len(m))
	}
	img := &Image{ConfigRaw: readFile(t, filepath.Join(dir, m[0].Config))}
	if err := json.Unmarshal(img.ConfigRaw, &img.Config); err != nil {
		t.Fatalf("decode config: %v", err)
	}
	for _, l := range m[0].Layers {
		img.LayerFiles = append(img.LayerFiles, filepath.Join(dir, l))
	}
	return img, m[0].RepoTags
}

// ExtractTar extracts a plain tar of regular files and directories (an
// OCI or Docker archive) into a new temp dir and returns it. Links and
// names leaving the dir fail the test.
func ExtractTar(t testing.TB, tarFile string) string {
	t.Helper()
	f, err := os.Open(tarFile)
	if err != nil {
		t.Fatalf("open %s: %v", tarFile, err)
	}
	defer f.Close()
	dir := t.TempDir()
	for _, e := range TarList(t, f) {
		n := CleanTarName(e.Header.Name)
		if n == "." {
			continue
		}
		if strings.HasPrefix(n, "../") || n == ".." {
			t.Fatalf("archive %s: entry %q leaves the archive", tarFile, e.Header.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(n))
		switch e.Header.Typeflag {
		case tar.TypeDir:
			mustMkdir(t, target)
		case tar.TypeReg:
			mustMkdir(t, filepath.Dir(target))
			writeFile(t, target, e.Data)
		default:
			t.Fatalf("archive %s: unexpected entry type %q for %s", tarFile, e.Header.Typeflag, n)
		}
	}
	return dir
}

// TagLayout rewrites index.json of a layout so that its only manifest
// (following a one-entry index) carries tag as its ref name; for handing
// a build output to umoci. It works on the layout in place: use it on
// copies made by the test (ExtractTar output).
func TagLayout(t testing.TB, dir, tag string) {
	t.Helper()
	img := ReadLayout(t, dir, "")
	raw := readFile(t, blobFile(dir, img.ManifestDigest))
	desc := Descriptor{MediaType: MediaTypeManifest, Digest: img.ManifestDigest, Size: int64(len(raw)),
		Annotations: map[string]string{refNameAnnotation: tag}}
	if img.Manifest.MediaType != "" {
		desc.MediaType = img.Manifest.MediaType
	}
	idx := Index{SchemaVersion: 2, MediaType: MediaTypeIndex, Manifests: []Descriptor{desc}}
	writeFile(t, filepath.Join(dir, "index.json"), mustJSON(t, idx))
}

func blobFile(dir, digest string) string {
	algo, hex, _ := strings.Cut(digest, ":")
	return filepath.Join(dir, "blobs", algo, hex)
}

func readFile(t testing.TB, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	return b
}

func readJSON(t testing.TB, file string, v any) {
	t.Helper()
	if err := json.Unmarshal(readFile(t, file), v); err != nil {
		t.Fatalf("decode %s: %v", file, err)
	}
}

func goarch() string { return runtime.GOARCH }
