package filecopy

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/moby/patternmatcher"
	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/fsroot"
)

// FS is a read-only file system addressed by unrooted slash names ("." is the
// root). It has the method set of snapshot.View. Lstat's FileInfo should carry
// a *syscall.Stat_t in Sys() so that hard links and the stat cache work.
type FS interface {
	Lstat(name string) (fs.FileInfo, error)
	ReadDir(name string) ([]fs.DirEntry, error)
	Open(name string) (io.ReadCloser, error)
	Readlink(name string) (string, error)
}

// DirFS returns the build context rooted at root, hiding what the
// .dockerignore patterns in ignore exclude (moby/patternmatcher semantics,
// "!" exceptions included: an excluded directory stays visible when it holds
// re-included files). Every name is resolved inside root with openat2
// RESOLVE_IN_ROOT, so neither ".." nor symlinks can reach outside it.
func DirFS(root string, ignore []string) FS {
	d := &dirFS{dir: root}
	if len(ignore) > 0 {
		pm, err := patternmatcher.New(ignore)
		if err != nil {
			d.patErr = fmt.Errorf("parse dockerignore patterns: %w", err)
		} else {
			d.pm = pm
		}
	}
	return d
}

type dirFS struct {
	dir    string
	pm     *patternmatcher.PatternMatcher
	patErr error

	mu      sync.Mutex
	keepDir map[string]bool // excluded dirs: does it hold re-included files?

	reads atomic.Pointer[dirReads] // a Prefetch's directory reads, or nil

	// root is opened once, on first use, and closed when d is collected.
	rootOnce sync.Once
	root     *fsroot.Root
	rootErr  error
}

var _ FS = (*dirFS)(nil)

func cleanName(name string) string {
	c := strings.TrimPrefix(path.Clean("/"+name), "/")
	if c == "" {
		return "."
	}
	return c
}

// openRoot opens the context directory as a root, once.
func (d *dirFS) openRoot() (*fsroot.Root, error) {
	d.rootOnce.Do(func() {
		root, err := fsroot.Open(d.dir)
		if err != nil {
			d.rootErr = &fs.PathError{Op: "open", Path: d.dir, Err: errors.Unwrap(err)}
			return
		}
		d.root = root
		runtime.AddCleanup(d, func(r *fsroot.Root) { r.Close() }, root)
	})
	return d.root, d.rootErr
}

// openIn opens name (resolved inside the root) with flags.
func (d *dirFS) openIn(name string, flags int) (*os.File, error) {
	root, err := d.openRoot()
	if err != nil {
		return nil, err
	}
	f, err := root.Open(name, flags, 0)
	runtime.KeepAlive(d)
	return f, err
}

// withParent runs fn with a /proc path naming base inside name's parent.
func (d *dirFS) withParent(name string, fn func(p string) error) error {
	return d.inParent(name, func(fd int, base string) error {
		return fn("/proc/self/fd/" + strconv.Itoa(fd) + "/" + base)
	})
}

// inParent runs fn with a descriptor of name's parent directory (resolved
// inside the root) and name's last component.
func (d *dirFS) inParent(name string, fn func(dirfd int, base string) error) error {
	dir, base := path.Split(name)
	if dir == "" {
		dir = "."
	}
	f, err := d.openIn(dir, unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return err
	}
	defer f.Close()
	return fn(int(f.Fd()), base)
}

// lstatAt is an lstat of base (one name, no slash) in the directory dirfd:
// it never follows base itself, so it cannot leave the directory.
func lstatAt(dirfd int, base string) (fs.FileInfo, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(dirfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: base, Err: err}
	}
	return newStatInfo(base, &st), nil
}

// parallelStats is the size of a directory from which lstatAll spreads
// its calls over the CPUs.
const parallelStats = 64

// lstatAll takes the lstat of each name in the open directory dirfd (one
// fstatat each), in parallel for a large directory: a context walk is
// that many system calls and little else.
func lstatAll(dirfd int, names []string) ([]fs.FileInfo, []error) {
	infos := make([]fs.FileInfo, len(names))
	errs := make([]error, len(names))
	stat := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			infos[i], errs[i] = lstatAt(dirfd, names[i])
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(names)/(parallelStats/2))
	if workers < 2 {
		stat(0, len(names))
		return infos, errs
	}
	chunk := (len(names) + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := chunk; lo < len(names); lo += chunk {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			stat(lo, hi)
		}(lo, min(lo+chunk, len(names)))
	}
	stat(0, chunk)
	wg.Wait()
	return infos, errs
}

func (d *dirFS) rawLstat(name string) (fs.FileInfo, error) {
	if name == "." {
		f, err := d.openIn(".", unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		fi, err := os.Stat("/proc/self/fd/" + strconv.Itoa(int(f.Fd())))
		if err != nil {
			return nil, err
		}
		return renamed{fi, "."}, nil
	}
	var fi fs.FileInfo
	err := d.inParent(name, func(dirfd int, base string) error {
		var err error
		fi, err = lstatAt(dirfd, base)
		return err
	})
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: unwrapPathErr(err)}
	}
	return fi, nil
}

func unwrapPathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// renamed gives a FileInfo another Name.
type renamed struct {
	fs.FileInfo
	name string
}

func (r renamed) Name() string { return r.name }

func (d *dirFS) Lstat(name string) (fs.FileInfo, error) {
	name = cleanName(name)
	fi, err := d.rawLstat(name)
	if err != nil {
		return nil, err
	}
	ok, err := d.visible(name, fi.IsDir())
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: fs.ErrNotExist}
	}
	return fi, nil
}

func (d *dirFS) ReadDir(name string) ([]fs.DirEntry, error) {
	name = cleanName(name)
	if m := d.reads.Load(); m != nil {
		return m.readDirMemo(name, func() ([]fs.DirEntry, error) { return d.readDir(name) })
	}
	return d.readDir(name)
}

// readDir is ReadDir without a prefetch.
func (d *dirFS) readDir(name string) ([]fs.DirEntry, error) {
	if ok, err := d.visible(name, true); err != nil || !ok {
		if err == nil {
			err = &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
		}
		return nil, err
	}
	dirf, err := d.openIn(name, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer dirf.Close()
	names, err := dirf.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read dir %s: %w", name, err)
	}
	slices.Sort(names)
	infos, errs := lstatAll(int(dirf.Fd()), names)
	out := make([]fs.DirEntry, 0, len(names))
	for i, n := range names {
		child := path.Join(name, n)
		fi, err := infos[i], errs[i]
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, err
		}
		ok, err := d.visible(child, fi.IsDir())
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, fs.FileInfoToDirEntry(fi))
		}
	}
	return out, nil
}

// Open opens name, which is not a symlink, for reading: one open in the
// root and an fstat of what it opened for the ignore patterns.
func (d *dirFS) Open(name string) (io.ReadCloser, error) {
	name = cleanName(name)
	root, err := d.openRoot()
	if err != nil {
		return nil, err
	}
	fd, err := root.OpenFD(name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	runtime.KeepAlive(d)
	if errors.Is(err, unix.ELOOP) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("is a symlink")}
	}
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	ok, err := d.visible(name, st.Mode&unix.S_IFMT == unix.S_IFDIR)
	if err != nil || !ok {
		unix.Close(fd)
		if err == nil {
			err = &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		return nil, err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFREG {
		return &openedFile{File: fsroot.NewFile(fd), st: st}, nil
	}
	return os.NewFile(uintptr(fd), name), nil
}

// openedFile is a regular file Open opened, with the fstat it took.
type openedFile struct {
	*fsroot.File
	st unix.Stat_t
}

// changedSince reports whether rc, a file an FS opened, is known not to be
// the file fi describes: another inode, or another size, mtime, ctime or
// mode. It is false when rc does not say what it is.
func changedSince(rc io.ReadCloser, fi fs.FileInfo) bool {
	f, ok := rc.(*openedFile)
	if !ok {
		return false
	}
	want, ok := keyOf(fi)
	if !ok {
		return false
	}
	st := &f.st
	return want != statKey{Dev: uint64(st.Dev), Ino: st.Ino, Size: st.Size,
		Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano(), Mode: st.Mode}
}

func (d *dirFS) Readlink(name string) (string, error) {
	name = cleanName(name)
	if _, err := d.Lstat(name); err != nil {
		return "", err
	}
	var target string
	err := d.withParent(name, func(p string) error {
		var err error
		target, err = os.Readlink(p)
		return err
	})
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: unwrapPathErr(err)}
	}
	return target, nil
}

// visible reports whether name survives the ignore patterns.
func (d *dirFS) visible(name string, isDir bool) (bool, error) {
	if d.patErr != nil {
		return false, d.patErr
	}
	if d.pm == nil || name == "." {
		return true, nil
	}
	excluded, err := d.pm.MatchesOrParentMatches(filepath.FromSlash(name))
	if err != nil {
		return false, fmt.Errorf("match dockerignore: %w", err)
	}
	if !excluded {
		return true, nil
	}
	if !isDir || !d.pm.Exclusions() {
		return false, nil
	}
	return d.holdsIncluded(name)
}

// holdsIncluded reports whether the excluded directory name holds a file or
// directory that an exception pattern re-includes.
func (d *dirFS) holdsIncluded(name string) (bool, error) {
	d.mu.Lock()
	v, ok := d.keepDir[name]
	d.mu.Unlock()
	if ok {
		return v, nil
	}
	names, err := d.rawNames(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
			return false, nil
		}
		return false, err
	}
	found := false
	for _, n := range names {
		child := path.Join(name, n)
		fi, err := d.rawLstat(child)
		if err != nil {
			continue
		}
		ok, err := d.visible(child, fi.IsDir())
		if err != nil {
			return false, err
		}
		if ok {
			found = true
			break
		}
	}
	d.mu.Lock()
	if d.keepDir == nil {
		d.keepDir = map[string]bool{}
	}
	d.keepDir[name] = found
	d.mu.Unlock()
	return found, nil
}

func (d *dirFS) rawNames(name string) ([]string, error) {
	f, err := d.openIn(name, unix.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("read dir %s: %w", name, err)
	}
	slices.Sort(names)
	return names, nil
}

var _ Linker = (*dirFS)(nil)

// Link hard-links the regular file name (as the FS shows it: an ignored
// file does not exist) to the host path dst, without following symlinks.
func (d *dirFS) Link(name, dst string) error {
	name = cleanName(name)
	fi, err := d.Lstat(name)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return &fs.PathError{Op: "link", Path: name, Err: errors.New("not a regular file")}
	}
	return d.inParent(name, func(dirfd int, base string) error {
		if err := unix.Linkat(dirfd, base, unix.AT_FDCWD, dst, 0); err != nil {
			return &fs.PathError{Op: "link", Path: name, Err: err}
		}
		return nil
	})
}
