// Package fsroot is the one way builder resolves a path inside a root
// directory: symlinks are followed as if the root were "/" (an absolute
// target starts again at the root, ".." stops there), so no name ever leads
// out of it.
//
// Root opens names in a real directory with openat2(RESOLVE_IN_ROOT), or,
// where the kernel has no openat2 (ENOSYS) or WithWalk asks for it, with a
// userspace walk over directory file descriptors that follows the same
// rules. Resolve does the same walk over anything with Lstat and Readlink
// (a Root, a merged layer view, a build context) and returns the resolved
// name. Both follow at most MaxLinks symlinks, as the kernel does, and fail
// with ELOOP beyond.
package fsroot
