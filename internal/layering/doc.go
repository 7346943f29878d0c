// Package layering holds the test that keeps imports flowing one way:
// parser → solver → snapshot, cache, executor, filecopy → exporter, store,
// registry (which knows no solver, exporter or cache) → internal/layer and
// internal/mount (which import nothing of ours); internal/imagesize, the
// size report, imports nothing of ours either; cmd/builder only wires
// them. It has no code of its own.
package layering
