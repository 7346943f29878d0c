// Package exporter writes a finished image somewhere: an OCI image layout
// tar (type=oci), a `docker load`-able tar (type=docker) or the flattened
// root file system as a tar (type=tar). Outputs are streamed; a layer is
// never held in memory. Options choose the layer compression and media
// types, recompressing layers in parallel (at most GOMAXPROCS at once) when
// needed; Convert gives the same converted image for Push. With WithStore a
// recompressed layer is kept as a store blob with a conversion record
// (diffID, compression, level) and reused by later exports and pushes.
// Those blobs are cache: nothing keeps them from a prune, and a record
// whose blob is gone is a miss.
//
// Push (push.go) uploads an image through package registry, which owns
// the keychain, transport, login and registry errors.
package exporter
