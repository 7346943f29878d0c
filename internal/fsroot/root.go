package fsroot

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Root is an open directory that names are resolved inside. It is safe for
// concurrent use.
type Root struct {
	fd     int
	dir    string
	dev    uint64
	noXDev bool
	walk   atomic.Bool // openat2 is missing (or WithWalk): walk in userspace
}

// Option configures Open.
type Option func(*Root)

// WithWalk resolves with the userspace walk even where openat2 exists (for
// tests, and to compare both).
func WithWalk() Option { return func(r *Root) { r.walk.Store(true) } }

// SameMount refuses to cross a mount point below the root
// (RESOLVE_NO_XDEV): such a name fails with EXDEV.
func SameMount() Option { return func(r *Root) { r.noXDev = true } }

// Open opens the directory dir as a root.
func Open(dir string, opts ...Option) (*Root, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open root %s: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("stat root %s: %w", dir, err)
	}
	r := &Root{fd: fd, dir: dir, dev: st.Dev}
	for _, o := range opts {
		o(r)
	}
	return r, nil
}

// Close closes the root's directory.
func (r *Root) Close() error { return unix.Close(r.fd) }

// Dir is the host path the root was opened with.
func (r *Root) Dir() string { return r.dir }

// OpenFD opens name inside the root with flags (O_CLOEXEC is added) and
// returns the file descriptor. Every symlink on the way, the last one too,
// is followed inside the root.
func (r *Root) OpenFD(name string, flags int, mode uint32) (int, error) {
	if name == "" {
		name = "."
	}
	flags |= unix.O_CLOEXEC
	if !r.walk.Load() {
		fd, err := r.openat2(name, flags, mode)
		if !errors.Is(err, unix.ENOSYS) {
			return fd, err
		}
		r.walk.Store(true)
	}
	return r.walkOpen(name, flags, mode)
}

// Open opens name inside the root with flags as an *os.File named name.
func (r *Root) Open(name string, flags int, mode uint32) (*os.File, error) {
	fd, err := r.OpenFD(name, flags, mode)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return os.NewFile(uintptr(fd), name), nil
}

// the one openat2 call of builder
func (r *Root) openat2(name string, flags int, mode uint32) (int, error) {
	how := unix.OpenHow{
		Flags:   uint64(flags),
		Mode:    uint64(mode),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	if r.noXDev {
		how.Resolve |= unix.RESOLVE_NO_XDEV
	}
	if flags&(unix.O_CREAT|unix.O_TMPFILE) == 0 {
		how.Mode = 0 // openat2 refuses a mode without O_CREAT
	}
	for {
		fd, err := unix.Openat2(r.fd, name, &how)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		return fd, err
	}
}

// walkOpen is openat2(RESOLVE_IN_ROOT) in userspace: it walks name one
// component at a time over directory descriptors opened with O_NOFOLLOW,
// following symlinks by reading them (an absolute target restarts at the
// root, ".." never climbs above it).
func (r *Root) walkOpen(name string, flags int, mode uint32) (int, error) {
	root, err := unix.Dup(r.fd)
	if err != nil {
		return -1, err
	}
	stack := []int{root} // the resolved directories, root first
	defer func() {
		for _, fd := range stack {
			unix.Close(fd)
		}
	}()
	popTo := func(n int) {
		for len(stack) > n {
			unix.Close(stack[len(stack)-1])
			stack = stack[:len(stack)-1]
		}
	}
	rest := strings.Split(name, "/")
	links := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			if len(stack) > 1 {
				popTo(len(stack) - 1)
			}
			continue
		}
		dir := stack[len(stack)-1]
		var st unix.Stat_t
		if err := unix.Fstatat(dir, c, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			if errors.Is(err, unix.ENOENT) && len(rest) == 0 && flags&unix.O_CREAT != 0 {
				return openat(dir, c, flags|unix.O_NOFOLLOW, mode)
			}
			return -1, err
		}
		if r.noXDev && st.Dev != r.dev {
			return -1, unix.EXDEV
		}
		switch {
		case st.Mode&unix.S_IFMT == unix.S_IFLNK:
			if len(rest) == 0 && flags&unix.O_NOFOLLOW != 0 {
				return openat(dir, c, flags, mode)
			}
			if links++; links > MaxLinks {
				return -1, unix.ELOOP
			}
			target, err := readlinkat(dir, c)
			if err != nil {
				return -1, err
			}
			if strings.HasPrefix(target, "/") {
				popTo(1)
			}
			rest = append(strings.Split(target, "/"), rest...)
		case len(rest) == 0:
			return openat(dir, c, flags|unix.O_NOFOLLOW, mode)
		case st.Mode&unix.S_IFMT != unix.S_IFDIR:
			return -1, unix.ENOTDIR
		default:
			fd, err := openat(dir, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			if err != nil {
				return -1, err
			}
			stack = append(stack, fd)
		}
	}
	return openat(stack[len(stack)-1], ".", flags, mode)
}

// openat opens name in dir; a symlink opened with O_PATH|O_NOFOLLOW (one
// that replaced what the walk saw) fails with ELOOP as it would without
// O_PATH.
func openat(dir int, name string, flags int, mode uint32) (int, error) {
	for {
		fd, err := unix.Openat(dir, name, flags, mode)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || flags&unix.O_PATH == 0 || flags&unix.O_NOFOLLOW == 0 {
			return fd, err
		}
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			unix.Close(fd)
			return -1, unix.ELOOP
		}
		return fd, nil
	}
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

// OpenParent opens the directory that holds name's last component (every
// symlink on the way followed inside the root) and returns its descriptor
// and that component ("." for the root itself).
func (r *Root) OpenParent(name string) (int, string, error) {
	clean := strings.TrimPrefix(path.Clean("/"+name), "/")
	if clean == "" {
		fd, err := r.OpenFD(".", unix.O_PATH|unix.O_DIRECTORY, 0)
		return fd, ".", err
	}
	dir, base := path.Split(clean)
	fd, err := r.OpenFD(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	return fd, base, err
}

// Lstat returns the info of name inside the root without following its last
// component; Sys() is a *syscall.Stat_t. With Resolve, a Root is an FS.
func (r *Root) Lstat(name string) (fs.FileInfo, error) {
	pfd, base, err := r.OpenParent(name)
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: err}
	}
	defer unix.Close(pfd)
	fd, err := unix.Openat(pfd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: err}
	}
	f := os.NewFile(uintptr(fd), path.Base("/"+name))
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: errors.Unwrap(err)}
	}
	return fi, nil
}

// Readlink returns the target of the symlink name inside the root.
func (r *Root) Readlink(name string) (string, error) {
	fd, base, err := r.OpenParent(name)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	defer unix.Close(fd)
	t, err := readlinkat(fd, base)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	return t, nil
}

var _ FS = (*Root)(nil)

// OpenDirNoSymlinks opens the directory name below the directory dirfd
// one component at a time, following no symlink: it fails where a
// component is missing, a symlink or not a directory. The descriptor is
// O_PATH (for *at calls). "." or "" is dirfd itself (a new descriptor).
func OpenDirNoSymlinks(dirfd int, name string) (int, error) {
	const flags = unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Openat(dirfd, ".", flags, 0)
	if err != nil {
		return -1, err
	}
	for _, c := range strings.Split(strings.Trim(name, "/"), "/") {
		if c == "" || c == "." {
			continue
		}
		next, err := unix.Openat(fd, c, flags, 0)
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}
