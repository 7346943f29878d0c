// Package check lints a Dockerfile without building it: BuildKit's build
// checks (same rule names, descriptions, URLs and messages) and container
// best-practice rules that look at the build context and, through an
// optional Resolver, at the base images.
//
// A Rule is data (name, description, URL) plus a function over a *Doc: the
// Dockerfile parsed twice, as buildkit's syntax tree (for casing and comments)
// and as the parser package's typed instructions, with an optional view of
// the context (the .dockerignore-filtered file system the build reads). Run
// applies the "# check=skip=...;error=true" directive as BuildKit does and
// returns a Report; WriteHuman, WriteJSON and WriteSARIF render it.
//
// The package never builds, stores or pushes anything: it does not import
// the solver, the exporter, the cache or the store.
package check
