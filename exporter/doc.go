// Package exporter writes a finished image somewhere. Exporter is its one
// interface, with one implementation per output type: OCITar (type=oci,
// an OCI image layout tar), DockerTar (type=docker, a `docker load`-able
// tar), RootfsTar (type=tar, the flattened root file system as a tar),
// LocalDir (type=local, the root file system as a directory) and, through
// a Pusher, a registry push (type=image,push=true, type=registry, --push).
// A tar goes to a Dest: a file renamed into place when complete, or a
// stream. Outputs are streamed; a layer is never held in memory. Options
// choose the layer compression and media types, recompressing layers in
// parallel (at most GOMAXPROCS at once) when needed; Convert gives the
// same converted image for Push. With WithStore a recompressed layer is
// kept as a store blob with a conversion record (diffID, compression,
// level) and reused by later exports and pushes. Those blobs are cache:
// nothing keeps them from a prune, and a record whose blob is gone is a
// miss.
//
// Push (push.go) uploads an image through package registry, which owns
// the keychain, transport, login and registry errors; a Pusher (pusher.go)
// remembers what it pushed so that later pushes mount those blobs.
//
// Attestations (attest.go): AttestationManifest stores in-toto statements
// about an image in BuildKit's attestation layout, one manifest per
// platform for the index; a push exporter is an AttestingExporter that
// pushes the image and its attestation manifest as one index.
// A multi-platform build is a list of PlatformImage; BuildIndex (index.go)
// is the one place its index is assembled. Every exporter is also an
// IndexExporter (multi.go): an index in the OCI tar or the push, a
// directory per platform for type=local and type=tar; DockerTar refuses.
package exporter
