// Package cache keeps cache records: what a build step with a given cache
// key produced (a layer blob in the store, or nothing, and its history
// entry). Records are JSON files written atomically, safe for many builder
// processes on one store; a record whose blob is gone is never served. The
// solver decides what a key is; this package only stores and finds records,
// and decides what a prune drops: the store measures and removes blobs,
// extracted layers and cache mounts.
package cache
