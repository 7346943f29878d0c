package layer

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestCompressionOf(t *testing.T) {
	tests := []struct {
		mt   types.MediaType
		want Compression
		ok   bool
	}{
		{types.OCILayer, Gzip, true},
		{types.DockerLayer, Gzip, true},
		{types.OCIRestrictedLayer, Gzip, true},
		{types.DockerForeignLayer, Gzip, true},
		{types.OCILayerZStd, Zstd, true},
		{types.OCIUncompressedLayer, Uncompressed, true},
		{types.OCIUncompressedRestrictedLayer, Uncompressed, true},
		{types.DockerUncompressedLayer, Uncompressed, true},
		{types.OCIConfigJSON, "", false},
		{types.DockerManifestSchema2, "", false},
		{"application/x-tar", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		t.Run(string(tc.mt), func(t *testing.T) {
			got, ok := CompressionOf(tc.mt)
			if got != tc.want || ok != tc.ok {
				t.Errorf("CompressionOf(%q) = %q, %v; want %q, %v", tc.mt, got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestMediaType(t *testing.T) {
	tests := []struct {
		c    Compression
		oci  bool
		want types.MediaType
	}{
		{Gzip, true, types.OCILayer},
		{Gzip, false, types.DockerLayer},
		{Zstd, true, types.OCILayerZStd},
		{Zstd, false, types.OCILayerZStd}, // Docker has no zstd layer type
		{Uncompressed, true, types.OCIUncompressedLayer},
		{Uncompressed, false, types.DockerUncompressedLayer},
	}
	for _, tc := range tests {
		got := MediaType(tc.c, tc.oci)
		if got != tc.want {
			t.Errorf("MediaType(%s, oci=%v) = %s, want %s", tc.c, tc.oci, got, tc.want)
		}
		// The two mappings agree: a media type gives back its compression.
		if c, ok := CompressionOf(got); !ok || c != tc.c {
			t.Errorf("CompressionOf(MediaType(%s, %v)) = %q, %v", tc.c, tc.oci, c, ok)
		}
		if !got.IsDistributable() || !got.IsLayer() {
			t.Errorf("MediaType(%s, %v) = %s is not a distributable layer", tc.c, tc.oci, got)
		}
	}
}

func TestForeignMediaType(t *testing.T) {
	for oci, want := range map[bool]types.MediaType{true: types.OCIRestrictedLayer, false: types.DockerForeignLayer} {
		got := ForeignMediaType(oci)
		if got != want {
			t.Errorf("ForeignMediaType(%v) = %s, want %s", oci, got, want)
		}
		if got.IsDistributable() {
			t.Errorf("%s counts as distributable", got)
		}
		if c, ok := CompressionOf(got); !ok || c != Gzip {
			t.Errorf("CompressionOf(%s) = %q, %v; want gzip", got, c, ok)
		}
	}
}
