package layer

import "github.com/google/go-containerregistry/pkg/v1/types"

// Compression is how a layer or an archive is compressed.
type Compression string

// The compressions of layers. Gzip, Zstd and Uncompressed are layer
// compressions (read and written); Bzip2 and Xz are only read, from
// archives that ADD extracts, and have no layer media type.
const (
	Gzip         Compression = "gzip"
	Zstd         Compression = "zstd"
	Uncompressed Compression = "uncompressed"
	Bzip2        Compression = "bzip2"
	Xz           Compression = "xz"
)

// CompressionOf tells the compression of a layer media type; ok is false
// when mt is not a layer media type this package knows. Foreign
// (non-distributable) layers count with their compression.
func CompressionOf(mt types.MediaType) (c Compression, ok bool) {
	switch mt {
	case types.OCILayer, types.DockerLayer, types.OCIRestrictedLayer, types.DockerForeignLayer:
		return Gzip, true
	case types.OCILayerZStd:
		return Zstd, true
	case types.OCIUncompressedLayer, types.OCIUncompressedRestrictedLayer, types.DockerUncompressedLayer:
		return Uncompressed, true
	}
	return "", false
}

// MediaType is the media type of a distributable layer compressed with c,
// in the OCI family or the Docker one. zstd has only an OCI media type, so
// it gets that one either way. Any compression other than Zstd and
// Uncompressed gets gzip's media type: callers accept only layer
// compressions.
func MediaType(c Compression, oci bool) types.MediaType {
	switch {
	case c == Zstd:
		return types.OCILayerZStd
	case c == Uncompressed && oci:
		return types.OCIUncompressedLayer
	case c == Uncompressed:
		return types.DockerUncompressedLayer
	case oci:
		return types.OCILayer
	default:
		return types.DockerLayer
	}
}

// ForeignMediaType is the media type a foreign (non-distributable) layer
// gets when an image moves to the OCI or the Docker family: only the family
// changes, the blob is kept as it is.
func ForeignMediaType(oci bool) types.MediaType {
	if oci {
		return types.OCIRestrictedLayer
	}
	return types.DockerForeignLayer
}
