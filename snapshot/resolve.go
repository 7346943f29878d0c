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
// with mode 0755 (Docker's implied directory mode), owned by root, where the
// path leads: through a symlink whose target is missing, the target is
// created inside the root, as containerd's archive.Apply does (fs.RootPath
// then mkparent).
func (r *inRoot) openDir(name string, create bool) (int, error) {
	if name == "." || name == "" {
		return unix.Dup(r.fd)
	}
	fd, err := r.openat2(name)
	if err == nil {
		return fd, nil
	}
	if !create || !errors.Is(err, unix.ENOENT) {
		return -1, fmt.Errorf("open directory %s: %w", name, err)
	}
	return r.mkdirAll(name)
}

// maxLinks bounds the symlinks mkdirAll follows, like the kernel's 40.
const maxLinks = 40

// mkdirAll resolves name inside the root component by component, following
// symlinks (absolute targets start at the root, ".." stops there), creates
// the directories missing on the way and opens the last one. cur is always
// a symlink-free path of existing directories, opened with RESOLVE_IN_ROOT
// so that a concurrent change cannot lead out of the root either.
func (r *inRoot) mkdirAll(name string) (int, error) {
	rest := strings.Split(name, "/")
	cur := "."
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		pfd, err := r.openDir(cur, false)
		if err != nil {
			return -1, err
		}
		var st unix.Stat_t
		err = unix.Fstatat(pfd, c, &st, unix.AT_SYMLINK_NOFOLLOW)
		if errors.Is(err, unix.ENOENT) {
			err = unix.Mkdirat(pfd, c, 0o755)
			if errors.Is(err, unix.EEXIST) {
				rest = append([]string{c}, rest...) // made meanwhile: look again
				err = nil
				next = cur
			}
			unix.Close(pfd)
			if err != nil {
				return -1, fmt.Errorf("create directory %s: %w", next, err)
			}
			cur = next
			continue
		}
		if err != nil {
			unix.Close(pfd)
			return -1, fmt.Errorf("stat %s: %w", next, err)
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			unix.Close(pfd)
			cur = next
		case unix.S_IFLNK:
			target, err := readlinkat(pfd, c)
			unix.Close(pfd)
			if err != nil {
				return -1, fmt.Errorf("read link %s: %w", next, err)
			}
			if links++; links > maxLinks {
				return -1, fmt.Errorf("resolve %s: %w", name, unix.ELOOP)
			}
			if strings.HasPrefix(target, "/") {
				cur = "."
			}
			rest = append(strings.Split(target, "/"), rest...)
		default:
			unix.Close(pfd)
			return -1, fmt.Errorf("open directory %s: %w", next, unix.ENOTDIR)
		}
	}
	return r.openDir(cur, false)
}

func readlinkat(dirfd int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dirfd, name, buf)
		if err != nil {
			return "", err
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
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
