// Package snapshot owns layers on disk and the root file systems RUN steps
// change: it extracts layer tars safely (Layers.Ensure into overlay-native
// directories, Apply onto a plain directory), offers a read-only merged View
// over extracted layers, prepares writable roots (overlay, or a copy where
// overlay is unavailable) and diffs a changed root into a layer tar in the
// format containerd's archive.WriteDiff produces. For RUN --mount it gives
// the layer stack of a stage's path and its bind or overlay mount (Lowers,
// BindMount) and the persistent type=cache directories with their locks
// (CacheDirs).
//
// It never runs processes: callers mount what Active.Mounts returns (see
// mount.Mount.MountAt) in their own mount namespace.
//
// On-disk form of an extracted layer (Layers.Ensure): a whiteout ".wh.x" is a
// character device 0:0 named x and an opaque marker ".wh..wh..opq" is the
// xattr trusted.overlay.opaque=y on its directory, so the directory is usable
// as an overlay lowerdir as is. Root of a user namespace (the rootless
// level) may make 0:0 whiteouts too but not trusted.* xattrs: there the mark
// is user.overlay.opaque=y, which an overlay mounted with "userxattr" (what
// overlayOptions gives in a user namespace) and fuse-overlayfs both read.
// Other devices and ids the namespace does not map are skipped on
// extraction. The chroot level cannot mknod; View and the copy snapshotter
// read whiteouts only through isWhiteout/isOpaque so that another form can
// be added there.
//
// Prepared roots are, in order of preference (Detect): the kernel's
// overlay, fuse-overlayfs (mount.FuseOverlay; its ".wh." files and
// user.fuseoverlayfs.opaque are read by the diff too), a copy.
//
// Symlinks in a layer's paths are resolved inside the root being written
// (openat2 RESOLVE_IN_ROOT): an entry below a symlink lands where the link
// leads inside the root, and directories missing there, also the target of
// a dangling symlink, are created (0755, root), as containerd's
// archive.Apply does; loops and non-directories fail with the entry's name.
// Apply writes onto the layers below, so it follows their symlinks too
// (containerd); Ensure extracts each layer alone, so a layer's directory
// hides a lower layer's symlink of the same name in the merged root, as with
// Docker's overlay2 graph driver (TestSymlinkAcrossLayers).
//
// Diffs leave out what did not change: directories are compared by type,
// mode, owner and xattrs, never by mtime (as containerd and Docker do), and
// are written with their new attributes as parents of changed entries.
package snapshot
