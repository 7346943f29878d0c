// Package layer owns what every package that reads or writes a layer
// shares: the layer media types (OCI and Docker, gzip, zstd and
// uncompressed, foreign/non-distributable variants) and their compression,
// the codecs (gzip and zstd both ways; bzip2 and xz read only, for ADD),
// sniffing an archive's compression by its magic bytes, and the tar header
// normalisation layers are written with (Docker-style headers from a file
// or another archive, mtimes truncated to the second, mtimes clamped to
// SOURCE_DATE_EPOCH).
//
// It imports nothing of the project: store, exporter, filecopy and solver
// all sit above it.
package layer
