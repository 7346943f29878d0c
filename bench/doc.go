// Package bench measures builder against Buildah on fixed workloads: wall
// time (median of several runs), the ratio between the two, and the peak
// resident set size of each build (the largest process of the child's tree,
// from wait4's rusage). The workloads, the tools and the report live here;
// the Go benchmark in bench_test.go drives them (`make bench`), builds the
// real binary once and writes the table to stdout and bench-out/results.md.
//
// Nothing here imports the builder's packages: the tools under test are run
// as child processes, exactly as a user would run them.
package bench
