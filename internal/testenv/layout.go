package testenv

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// OCI media types used by the harness.
const (
	MediaTypeIndex    = "application/vnd.oci.image.index.v1+json"
	MediaTypeManifest = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeConfig   = "application/vnd.oci.image.config.v1+json"
	MediaTypeLayerGz  = "application/vnd.oci.image.layer.v1.tar+gzip"
	// Docker schema 2 manifest list / manifest, found in some layouts.
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	refNameAnnotation       = "org.opencontainers.image.ref.name"
)

// Descriptor is an OCI content descriptor.
type Descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *Platform         `json:"platform,omitempty"`
}

// Platform is the platform of an index entry.
type Platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

// Index is an OCI image index (index.json).
type Index struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType,omitempty"`
	Manifests     []Descriptor `json:"manifests"`
}

// Manifest is an OCI (or Docker schema 2) image manifest.
type Manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType,omitempty"`
	Config        Descriptor   `json:"config"`
	Layers        []Descriptor `json:"layers"`
}

// TarEntry is one entry of a tar built in code. Body is the content of a
// regular file.
type TarEntry struct {
	Header tar.Header
	Body   []byte
}

// BuildTar writes entries, in order, as an uncompressed tar. Size is set
// from Body for regular files.
func BuildTar(t testing.TB, entries []TarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.Header
		if h.Typeflag == tar.TypeReg {
			h.Size = int64(len(e.Body))
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("write tar header %s: %v", h.Name, err)
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(e.Body); err != nil {
				t.Fatalf("write tar body %s: %v", h.Name, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatalf("close tar: %v", err)
	}
	return buf.Bytes()
}

// WriteLayout writes a single-manifest OCI image layout into dir (created if
// needed) tagged tag, from uncompressed layer tars and an image config. The
// config's "rootfs" is filled in from the layers. The result is
// deterministic for the same input. It returns the manifest descriptor.
func WriteLayout(t testing.TB, dir, tag string, config map[string]any, layers ...[]byte) Descriptor {
	t.Helper()
	mustMkdir(t, filepath.Join(dir, "blobs", "sha256"))
	var diffIDs []string
	var layerDescs []Descriptor
	for _, l := range layers {
		diffIDs = append(diffIDs, digestOf(l))
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		if _, err := zw.Write(l); err != nil {
			t.Fatalf("gzip layer: %v", err)
		}
		if err := zw.Close(); err != nil {
			t.Fatalf("gzip layer: %v", err)
		}
		layerDescs = append(layerDescs, writeBlob(t, dir, MediaTypeLayerGz, gz.Bytes()))
	}
	cfg := map[string]any{}
	for k, v := range config {
		cfg[k] = v
	}
	if diffIDs == nil {
		diffIDs = []string{}
	}
	cfg["rootfs"] = map[string]any{"type": "layers", "diff_ids": diffIDs}
	cfgDesc := writeBlob(t, dir, MediaTypeConfig, mustJSON(t, cfg))
	if layerDescs == nil {
		layerDescs = []Descriptor{}
	}
	m := Manifest{SchemaVersion: 2, MediaType: MediaTypeManifest, Config: cfgDesc, Layers: layerDescs}
	mDesc := writeBlob(t, dir, MediaTypeManifest, mustJSON(t, m))
	mDesc.Annotations = map[string]string{refNameAnnotation: tag}
	idx := Index{SchemaVersion: 2, MediaType: MediaTypeIndex, Manifests: []Descriptor{mDesc}}
	writeFile(t, filepath.Join(dir, "index.json"), mustJSON(t, idx))
	writeFile(t, filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`))
	return mDesc
}

func writeBlob(t testing.TB, dir, mediaType string, data []byte) Descriptor {
	t.Helper()
	d := digestOf(data)
	writeFile(t, filepath.Join(dir, "blobs", "sha256", d[len("sha256:"):]), data)
	return Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
}

func digestOf(data []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(data)) }

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encode json: %v", err)
	}
	return b
}

func writeFile(t testing.TB, file string, data []byte) {
	t.Helper()
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatalf("write %s: %v", file, err)
	}
}
