// Package snapshot owns layers on disk and the root file systems RUN steps
// change: it extracts layer tars safely (Layers.Ensure into overlay-native
// directories, Apply onto a plain directory), offers a read-only merged View
// over extracted layers, prepares writable roots (overlay, or a copy where
// overlay is unavailable) and diffs a changed root into a layer tar in the
// format containerd's archive.WriteDiff produces.
//
// It never runs processes: callers mount what Active.Mounts returns (see
// Mount.MountAt) in their own mount namespace.
//
// On-disk form of an extracted layer (Layers.Ensure): a whiteout ".wh.x" is a
// character device 0:0 named x and an opaque marker ".wh..wh..opq" is the
// xattr trusted.overlay.opaque=y on its directory, so the directory is usable
// as an overlay lowerdir as is. Levels without mknod (rootless, chroot) will
// need another representation; View and the copy snapshotter read whiteouts
// only through isWhiteout/isOpaque so that one can be added there.
package snapshot
