package snapshot

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/fsroot"
)

// inRoot resolves paths inside a root directory with fsroot (openat2
// RESOLVE_IN_ROOT, or its userspace walk): symlinks and ".." can never lead
// out of it, nor across a mount point below it.
type inRoot struct {
	root *fsroot.Root
}

func openRoot(dir string) (*inRoot, error) {
	r, err := fsroot.Open(dir, fsroot.SameMount())
	if err != nil {
		return nil, err
	}
	return &inRoot{root: r}, nil
}

func (r *inRoot) Close() error { return r.root.Close() }

// openDir opens the directory name (a clean unrooted path) inside the root,
// following symlinks within it. With create, missing directories are made
// with mode 0755 (Docker's implied directory mode), owned by root, where the
// path leads: through a symlink whose target is missing, the target is
// created inside the root, as containerd's archive.Apply does (fs.RootPath
// then mkparent).
func (r *inRoot) openDir(name string, create bool) (int, error) {
	fd, err := r.open(name)
	if err == nil {
		return fd, nil
	}
	if !create || !errors.Is(err, unix.ENOENT) {
		return -1, fmt.Errorf("open directory %s: %w", name, err)
	}
	return r.mkdirAll(name)
}

func (r *inRoot) open(name string) (int, error) {
	return r.root.OpenFD(name, unix.O_PATH|unix.O_DIRECTORY, 0)
}

// mkdirAll resolves name inside the root (fsroot.Resolve: absolute targets
// start at the root, ".." stops there), creates the directories missing on
// the way and opens the last one. Each directory is made in its parent
// opened inside the root, so that a concurrent change cannot lead out of
// the root either.
func (r *inRoot) mkdirAll(name string) (int, error) {
	resolved, err := fsroot.Resolve(r.root, name, fsroot.OnMissing(func(dir string, _ bool) error {
		pfd, base, err := r.root.OpenParent(dir)
		if err != nil {
			return fmt.Errorf("open directory %s: %w", dir, err)
		}
		defer unix.Close(pfd)
		if err := unix.Mkdirat(pfd, base, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("create directory %s: %w", dir, err)
		}
		return nil // made meanwhile (EEXIST): the walk looks again
	}))
	if err != nil {
		return -1, err
	}
	fd, err := r.open(resolved)
	if err != nil {
		return -1, fmt.Errorf("open directory %s: %w", resolved, err)
	}
	return fd, nil
}

// procPath names base inside the directory fd without following base.
func procPath(dirfd int, base string) string {
	return fmt.Sprintf("/proc/self/fd/%d/%s", dirfd, base)
}
