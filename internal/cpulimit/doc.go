// Package cpulimit is the one limiter for CPU-bound internal work of a
// build: hashing file content, compressing layers, extracting layers. It is
// a weighted semaphore as large as the CPU count, shared by every step of a
// build (and every build of one process), so that parallel steps do not run
// more compressors and hashers than there are CPUs. Steps themselves (RUN
// processes, network pulls, sleeps) never take it: only the CPU-bound parts
// inside a step do, for as long as they compute.
package cpulimit
