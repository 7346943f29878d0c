// Package store is builder's local store under one root directory
// ($BUILDER_ROOT): an OCI image layout (root/oci) whose index.json entries
// carry the tag in the org.opencontainers.image.ref.name annotation,
// extracted layers (root/layers), cache records (root/cache), RUN
// --mount=type=cache directories (root/cache-mounts), work in progress
// (root/tmp) and lock and lease files (root/locks). Only this package
// builds those paths; others ask it (LayersDir, CacheMountsDir, ...). A
// tag names an image or a multi-platform index (TagIndex, ImagePlatform).
//
// Several processes may share one root. Every write goes to a temp file in
// root/tmp, is fsynced and renamed into place; index.json is rewritten under
// an exclusive flock. A crash never leaves index.json pointing at a missing
// or partial blob, and Open removes temp entries left by dead processes.
//
// The store also measures its parts (Usage), says what tags and running
// builds keep (TaggedBlobs, ActiveLeases) and removes blobs, extracted
// layers and cache mounts safely against concurrent builds (RemoveBlob,
// RemoveLayer, RemoveCacheMount, under LockGC). What to remove is the
// caller's choice (cache.Prune). Fsck checks blob digests, tag closures
// and the extracted layers directory and, with repair, drops only what is
// broken (cache.Fsck adds the cache records).
package store
