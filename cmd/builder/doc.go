// Command builder builds container images from Dockerfiles without a
// daemon. It is the only package that knows about flags and the terminal:
// it parses each subcommand's flags into the requests of the packages below
// it (build.Run for `builder build`, store, cache, registry and check for
// the rest), renders progress events (tty, plain, json) and maps errors to
// exit statuses (1 failure, 2 usage, 130 interrupted). It holds no build
// logic of its own.
package main
