// Package attest makes the in-toto attestations of a build: SLSA
// provenance (v1, or v0.2) from what the build was asked and what it
// resolved, and an SPDX 2.3 SBOM of what the final image contains (dpkg,
// apk and rpm package databases, Go binaries' module lists), read as a stream
// of the image's layers. It returns predicates; package exporter wraps
// them in statements whose subject is the image manifest as written and
// stores them in attestation manifests, as BuildKit does. Nothing here
// sees a secret's value or a registry credential: the build passes secret
// IDs only, and git remote URLs lose their user information.
package attest
