package snapshot

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/mount"
)

// Snapshotter prepares writable root file systems over extracted layers.
type Snapshotter interface {
	// Prepare makes a new writable root over lowers (extracted layer
	// directories, bottom first).
	Prepare(ctx context.Context, lowers []string) (Active, error)
}

// Active is one prepared root.
type Active interface {
	// Mounts says how to mount the root; the caller mounts and unmounts.
	Mounts() []mount.Mount
	// Diff writes the uncompressed layer tar of what changed in the root.
	// The root must not be mounted by anyone while Diff runs.
	Diff(ctx context.Context, w io.Writer) error
	// Release removes everything Prepare made.
	Release(ctx context.Context) error
}

const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = whiteoutPrefix + whiteoutPrefix
	whiteoutOpaque = whiteoutMeta + ".opq"
	opaqueXattr    = "trusted.overlay.opaque"
	// userOpaqueXattr marks an opaque directory of an overlay mounted
	// with userxattr (in a user namespace).
	userOpaqueXattr = "user.overlay.opaque"
	// fuseOpaqueXattr is how fuse-overlayfs marks an opaque directory it
	// made without privileges.
	fuseOpaqueXattr = "user.fuseoverlayfs.opaque"
	paxXattr        = "SCHILY.xattr."
)

// isWhiteout reports whether fi is an overlay whiteout (char device 0:0).
func isWhiteout(fi fs.FileInfo) bool {
	if fi.Mode()&fs.ModeCharDevice == 0 || fi.Mode()&fs.ModeDevice == 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Rdev == 0
}

// isOpaque reports whether the directory at p carries the opaque xattr.
func isOpaque(p string) bool {
	for _, name := range []string{opaqueXattr, userOpaqueXattr, fuseOpaqueXattr} {
		buf := make([]byte, 4)
		n, err := unix.Lgetxattr(p, name, buf)
		if err == nil && n == 1 && buf[0] == 'y' {
			return true
		}
	}
	// fuse-overlayfs on a file system without user xattrs.
	_, err := os.Lstat(filepath.Join(p, whiteoutOpaque))
	return err == nil
}

// skipXattr reports xattrs never carried in or out of layers.
func skipXattr(name string) bool {
	return strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.") ||
		strings.HasPrefix(name, "user.fuseoverlayfs.") ||
		name == "security.selinux"
}

// cleanName turns a tar entry name or a View name into an unrooted clean
// slash path ("." for the root). ok is false if it escapes the root.
func cleanName(name string) (string, bool) {
	n := strings.TrimLeft(name, "/")
	if n == "" {
		return ".", true
	}
	c := path.Clean(n)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", false
	}
	return c, true
}
