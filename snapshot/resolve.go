package snapshot

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// inRoot resolves paths inside a root directory with openat2(RESOLVE_IN_ROOT):
// symlinks and ".." can never lead out of it.
type inRoot struct {
	fd   int
	path string
}

func openRoot(dir string) (*inRoot, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", dir, err)
	}
	return &inRoot{fd: fd, path: dir}, nil
}

func (r *inRoot) Close() error { return unix.Close(r.fd) }

// openDir opens the directory name (a clean unrooted path) inside the root,
// following symlinks within it. With create, missing directories are made
// with mode 0755 (Docker's implied directory mode), owned by root.
func (r *inRoot) openDir(name string, create bool) (int, error) {
	if name == "." || name == "" {
		return unix.Dup(r.fd)
	}
	fd, err := r.openat2(name)
	if err == nil || !create || !errors.Is(err, unix.ENOENT) {
		return fd, err
	}
	// Walk from the top, creating what is missing.
	parent, err := unix.Dup(r.fd)
	if err != nil {
		return -1, err
	}
	prefix := ""
	for _, c := range strings.Split(name, "/") {
		prefix = path.Join(prefix, c)
		fd, err := r.openat2(prefix)
		if errors.Is(err, unix.ENOENT) {
			// The parent fd is the resolved parent; c is a plain name.
			if merr := unix.Mkdirat(parent, c, 0o755); merr != nil && !errors.Is(merr, unix.EEXIST) {
				unix.Close(parent)
				return -1, fmt.Errorf("create directory %s: %w", prefix, merr)
			}
			fd, err = r.openat2(prefix)
		}
		unix.Close(parent)
		if err != nil {
			return -1, fmt.Errorf("open directory %s: %w", prefix, err)
		}
		parent = fd
	}
	return parent, nil
}

func (r *inRoot) openat2(name string) (int, error) {
	for {
		fd, err := unix.Openat2(r.fd, name, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
		})
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		return fd, err
	}
}

// procPath names base inside the directory fd without following base.
func procPath(dirfd int, base string) string {
	return fmt.Sprintf("/proc/self/fd/%d/%s", dirfd, base)
}
