// Package build is the build pipeline: a solver request is solved, the
// --cache-from sources are imported before and the --cache-to
// destinations exported after, the image is tagged in the local store and
// handed to each exporter (files, directories, registry pushes) in turn.
// It also picks the isolation level of RUN steps and the snapshotter that
// goes with it. Run is the whole pipeline, configured with With… options;
// progress goes to a solver.Reporter and nothing is printed, so a whole
// build runs from a Go program or test as it does from cmd/builder, which
// only turns flags into a request and options and renders progress.
package build
