// Package mount holds the one Mount type of the builder and the one parser
// of its fstab-style options, shared by snapshot (root file systems it
// prepares), executor (mounts it makes for a step) and solver (which hands
// the first to the second), as containerd's mount.Mount is.
//
// Mount.MountAt mounts one in the calling thread's mount namespace; the
// executor has its own mounting code for the mounts of a step but reads
// options through ParseOptions too.
package mount
