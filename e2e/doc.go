// Package e2e holds the end-to-end tests: they build ./cmd/builder once and
// run the real binary on the cases under testdata/dockerfiles (Dockerfile,
// context/ and expect.json per case), checking the results as a client
// would (skopeo, umoci, runc, raw tar headers and config blobs). The tests
// are in package e2e_test; this file only documents the directory.
package e2e
