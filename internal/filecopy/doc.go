// Package filecopy implements COPY and ADD: it selects files from a source
// file system (the build context or another stage's root), applies Docker and
// BuildKit's rules (wildcards, directory contents, --parents, --exclude,
// --chown, --chmod, archives and URLs for ADD, heredocs) and streams the
// resulting layer as an uncompressed, deterministic tar. It also computes the
// content checksum used in cache keys, with a persistent stat cache.
//
// The build context is one FS (DirFS, .dockerignore applied) for everything
// that reads it: COPY and ADD, and RUN --mount=type=bind, whose source
// Materialize writes out (hard links where it can) and TreeSum hashes for
// the step's key, from one walk of that FS.
//
// It does not write to any root file system: the caller applies the layer.
package filecopy
