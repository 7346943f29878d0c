package exporter

import (
	"fmt"

	"github.com/builderdev/builder/internal/layer"
	"github.com/builderdev/builder/store"
)

// Compression is a layer compression.
type Compression = layer.Compression

// The layer compressions an output can ask for.
const (
	Gzip         = layer.Gzip
	Zstd         = layer.Zstd
	Uncompressed = layer.Uncompressed
)

// Options tune how an image is written. The zero value keeps layers as they
// are stored and uses the output's default media types (OCI for WriteOCI,
// Docker for WriteDocker).
type Options struct {
	// Compression of the layers written; "" keeps each layer as stored.
	Compression Compression
	// Level is the compression level (0: the compressor's default).
	Level int
	// Force recompresses layers even when already in Compression.
	Force bool
	// OCIMediaTypes forces OCI (true) or Docker (false) media types; nil
	// takes the output's default. zstd layers always get OCI media types.
	OCIMediaTypes *bool
	// TempDir holds recompressed layers while they are written; "" uses
	// the system's temp dir. Unused with Store.
	TempDir string
	// Store, if set, keeps recompressed layers as blobs with a conversion
	// record (store.Conversion), so exporting the same layer again with
	// the same compression and level reuses the blob instead of
	// compressing again. Converted blobs are cache: prune may remove them.
	Store *store.Store
}

// Option sets one field of Options.
type Option func(*Options)

// WithCompression asks for layers compressed with c at level (0: default).
func WithCompression(c Compression, level int) Option {
	return func(o *Options) { o.Compression, o.Level = c, level }
}

// WithForceCompression recompresses every layer, even those already in the
// requested compression.
func WithForceCompression() Option { return func(o *Options) { o.Force = true } }

// WithOCIMediaTypes chooses OCI (true) or Docker (false) media types.
func WithOCIMediaTypes(oci bool) Option { return func(o *Options) { o.OCIMediaTypes = &oci } }

// WithTempDir sets where recompressed layers are staged.
func WithTempDir(dir string) Option { return func(o *Options) { o.TempDir = dir } }

// WithStore keeps recompressed layers in st and reuses them (see
// Options.Store).
func WithStore(st *store.Store) Option { return func(o *Options) { o.Store = st } }

// WithOptions applies a whole Options value.
func WithOptions(opts Options) Option { return func(o *Options) { *o = opts } }

func makeOptions(opts []Option) (Options, error) {
	var o Options
	for _, fn := range opts {
		fn(&o)
	}
	switch o.Compression {
	case "", Gzip, Zstd, Uncompressed:
	default:
		return o, fmt.Errorf("unknown compression %q", o.Compression)
	}
	return o, nil
}
