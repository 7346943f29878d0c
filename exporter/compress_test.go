package exporter_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/builderdev/builder/exporter"
	"github.com/builderdev/builder/internal/testenv"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestCompressionOptions(t *testing.T) {
	ctx := context.Background()
	img := simpleImage(t)
	origDigest, _ := img.Digest()
	origLayers, _ := img.Manifest()
	cf, _ := img.ConfigFile()
	cfgName, _ := img.ConfigName()
	tests := []struct {
		name       string
		docker     bool
		opts       []exporter.Option
		manifestMT string
		layerMT    string
		sameLayers bool // blobs kept as stored
		sameImage  bool // manifest digest unchanged
	}{
		{"oci-default", false, nil, testenv.MediaTypeManifest, testenv.MediaTypeLayerGz, true, true},
		{"oci-gzip-kept", false, []exporter.Option{exporter.WithCompression(exporter.Gzip, 0)}, testenv.MediaTypeManifest, testenv.MediaTypeLayerGz, true, true},
		{"oci-gzip-forced", false, []exporter.Option{exporter.WithCompression(exporter.Gzip, 9), exporter.WithForceCompression()}, testenv.MediaTypeManifest, testenv.MediaTypeLayerGz, false, false},
		{"oci-zstd", false, []exporter.Option{exporter.WithCompression(exporter.Zstd, 3)}, testenv.MediaTypeManifest, "application/vnd.oci.image.layer.v1.tar+zstd", false, false},
		{"oci-uncompressed", false, []exporter.Option{exporter.WithCompression(exporter.Uncompressed, 0)}, testenv.MediaTypeManifest, "application/vnd.oci.image.layer.v1.tar", false, false},
		{"docker-default", true, nil, testenv.MediaTypeDockerManifest, "application/vnd.docker.image.rootfs.diff.tar.gzip", true, false},
		{"docker-oci-types", true, []exporter.Option{exporter.WithOCIMediaTypes(true)}, testenv.MediaTypeManifest, testenv.MediaTypeLayerGz, true, true},
		{"docker-zstd-forces-oci", true, []exporter.Option{exporter.WithCompression(exporter.Zstd, 0)}, testenv.MediaTypeManifest, "application/vnd.oci.image.layer.v1.tar+zstd", false, false},
		{"oci-docker-types", false, []exporter.Option{exporter.WithOCIMediaTypes(false)}, testenv.MediaTypeDockerManifest, "application/vnd.docker.image.rootfs.diff.tar.gzip", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			opts := append([]exporter.Option{exporter.WithTempDir(tmp)}, tc.opts...)
			p := writeFileWith(t, func(f *os.File) error {
				if tc.docker {
					return exporter.WriteDocker(ctx, f, img, []string{"app:1"}, opts...)
				}
				return exporter.WriteOCI(ctx, f, img, "app:1", opts...)
			})
			archiveHeaders(t, p)
			if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
				t.Errorf("staged layers left: %v", ents)
			}
			dir := testenv.ExtractTar(t, p)
			lay := testenv.ReadLayout(t, dir, "1")
			if lay.Manifest.MediaType != tc.manifestMT {
				t.Errorf("manifest media type %s, want %s", lay.Manifest.MediaType, tc.manifestMT)
			}
			if (lay.ManifestDigest == origDigest.String()) != tc.sameImage {
				t.Errorf("manifest digest %s (original %s), same wanted: %v", lay.ManifestDigest, origDigest, tc.sameImage)
			}
			if lay.Manifest.Config.Digest != cfgName.String() {
				t.Errorf("config digest changed: %s", lay.Manifest.Config.Digest)
			}
			for i, l := range lay.Manifest.Layers {
				if l.MediaType != tc.layerMT {
					t.Errorf("layer %d media type %s, want %s", i, l.MediaType, tc.layerMT)
				}
				if (l.Digest == origLayers.Layers[i].Digest.String()) != tc.sameLayers {
					t.Errorf("layer %d digest %s (original %s)", i, l.Digest, origLayers.Layers[i].Digest)
				}
				if got := sha(uncompressed(t, lay.LayerFiles[i])); got != cf.RootFS.DiffIDs[i].Hex {
					t.Errorf("layer %d content does not match diffID", i)
				}
			}
			// A real client can read the image and its layers. (skopeo 1.9's
			// oci: transport only finds OCI-typed manifests in index.json.)
			src := "oci:" + dir + ":1"
			if tc.docker {
				src = "docker-archive:" + p
			} else if tc.manifestMT != testenv.MediaTypeManifest {
				return
			}
			testenv.Skopeo(t, "copy", src, "dir:"+filepath.Join(t.TempDir(), "copy"))
		})
	}
}

func TestBadCompression(t *testing.T) {
	err := exporter.WriteOCI(context.Background(), new(nopWriter), simpleImage(t), "", exporter.WithCompression("lz4", 0))
	if err == nil {
		t.Fatal("unknown compression accepted")
	}
}

type nopWriter struct{}

func (*nopWriter) Write(p []byte) (int, error) { return len(p), nil }

var _ v1.Image = nil
