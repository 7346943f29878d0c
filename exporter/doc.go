// Package exporter writes a finished image somewhere: an OCI image layout
// tar (type=oci), a `docker load`-able tar (type=docker) or the flattened
// root file system as a tar (type=tar). Outputs are streamed; a layer is
// never held in memory. Options choose the layer compression and media
// types, recompressing layers in parallel when needed.
//
// Registry push and authentication live in push*.go.
package exporter
