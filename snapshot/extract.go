package snapshot

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/cpulimit"
	"github.com/builderdev/builder/internal/ctxio"
	"github.com/builderdev/builder/internal/layer"
	"github.com/builderdev/builder/internal/userns"
)

// whiteoutMode says what a whiteout in a layer becomes.
type whiteoutMode int

const (
	// whiteoutsAsOverlay stores whiteouts in overlay-native form.
	whiteoutsAsOverlay whiteoutMode = iota
	// whiteoutsDelete deletes what the whiteouts name.
	whiteoutsDelete
)

// Apply applies one uncompressed layer tar onto the plain directory root:
// whiteouts delete what they name (an opaque marker deletes what the
// directory held before this layer). No entry can land outside root.
// What it writes is bounded (see WithMaxExtractSize).
func Apply(ctx context.Context, root string, r io.Reader, opts ...ExtractOption) error {
	return extract(ctx, root, r, whiteoutsDelete, extractConfig(opts))
}

// ExtractOption configures an extraction.
type ExtractOption func(*extractOptions)

type extractOptions struct {
	maxSize     int64
	linkFrom    string                      // WithLinkFrom
	linkSources func(string) (string, bool) // WithLinkSources
	cpu         *cpulimit.Limiter           // the Layers' (a linking batch's second goroutine takes a free slot)
}

// WithMaxExtractSize bounds the bytes of file content one extraction
// writes (counted by the sizes entries declare, before they are written):
// n > 0 bytes at most; 0 (the default) so much that the disk keeps
// layer.MinFreePercent free; n < 0 no bound.
func WithMaxExtractSize(n int64) ExtractOption {
	return func(o *extractOptions) { o.maxSize = n }
}

func extractConfig(opts []ExtractOption) extractOptions {
	var o extractOptions
	for _, f := range opts {
		f(&o)
	}
	return o
}

type dirTime struct {
	name         string
	atime, mtime time.Time
}

type extractor struct {
	root     *inRoot
	mode     whiteoutMode
	created  map[string]bool
	dirTimes []dirTime
	euid     int
	budget   *layer.Budget
	userns   bool    // root of a user namespace: no devices, unmapped ids
	linker   *linker // WithLinkFrom, or nil
	batch    linkBatch
	cpu      *cpulimit.Limiter

	// The directory the last entry went to, kept open for the entries
	// that follow in it (a tar lists a directory's files together);
	// dirGen counts the times one was opened.
	dirFD    int
	dirName  string
	dirGen   uint64
	dirStale bool // an entry was removed since: the path may lead elsewhere
}

// parentDir returns a descriptor of the directory dir (made where missing),
// owned by x: the caller does not close it.
func (x *extractor) parentDir(dir string) (int, error) {
	if x.dirFD >= 0 && x.dirName == dir && !x.dirStale {
		return x.dirFD, nil
	}
	x.dropDir()
	fd, err := x.root.openDir(dir, true)
	if err != nil {
		return -1, err
	}
	x.dirFD, x.dirName = fd, dir
	x.dirGen++
	return fd, nil
}

// dropDir closes the kept directory.
func (x *extractor) dropDir() {
	if x.dirFD >= 0 {
		unix.Close(x.dirFD)
	}
	x.dirFD, x.dirName, x.dirStale = -1, "", false
}

// replacing forgets the kept directory when the entry name is it or one of
// its parents: the entry may replace it, or make a symlink of it.
func (x *extractor) replacing(name string) {
	if x.dirFD >= 0 && (x.dirName == name || strings.HasPrefix(x.dirName, name+"/")) {
		x.dropDir()
	}
}

func extract(ctx context.Context, dir string, r io.Reader, mode whiteoutMode, o extractOptions) error {
	root, err := openRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	x := &extractor{root: root, mode: mode, created: map[string]bool{}, euid: os.Geteuid(), userns: userns.Inside(),
		budget: layer.NewBudget(dir, o.maxSize), dirFD: -1, cpu: o.cpu}
	defer x.dropDir()
	if k := newLinker(o); k != nil {
		x.linker = k
		defer k.close()
	}
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read layer tar: %w", err)
		}
		if err := layer.CheckName(hdr.Name); err != nil {
			return fmt.Errorf("extract %.64q...: %w", hdr.Name, err)
		}
		if !x.joinsBatch(hdr) {
			if err := x.flushBatch(ctx); err != nil {
				return err
			}
		}
		if err := x.entry(ctx, hdr, tr); err != nil {
			return fmt.Errorf("extract %q: %w", hdr.Name, err)
		}
	}
	if err := x.flushBatch(ctx); err != nil {
		return err
	}
	for i := len(x.dirTimes) - 1; i >= 0; i-- {
		d := x.dirTimes[i]
		if err := x.setTimes(d.name, d.atime, d.mtime); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("set times of %q: %w", d.name, err)
		}
	}
	return nil
}

// entryPath returns where hdr goes: its clean name, directory and base
// name; skip for what makes no entry (a global header, the root's own
// entry: the root keeps its attributes).
func entryPath(hdr *tar.Header) (name, dir, base string, skip bool, err error) {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return "", "", "", true, nil
	}
	name, ok := cleanName(hdr.Name)
	if !ok {
		return "", "", "", false, errors.New("path escapes the root")
	}
	if name == "." {
		return "", "", "", true, nil
	}
	dir, base = path.Split(name)
	return name, path.Clean(dir), base, false, nil
}

func (x *extractor) entry(ctx context.Context, hdr *tar.Header, tr io.Reader) error {
	name, dir, base, skip, err := entryPath(hdr)
	if skip || err != nil {
		return err
	}
	if strings.HasPrefix(base, whiteoutPrefix) {
		x.dropDir() // it removes what it names, or what a directory held
		return x.whiteout(dir, base)
	}
	x.replacing(name)
	pfd, err := x.parentDir(dir)
	if err != nil {
		return err
	}
	// Most entries name nothing that exists yet: each is created at once,
	// and only a create that finds its name taken looks at what is there
	// (x.clear) and tries again.
	perm := uint32(hdr.Mode) & 0o7777
	symlink := false
	switch hdr.Typeflag {
	case tar.TypeDir:
		err := unix.Mkdirat(pfd, base, 0o700)
		if errors.Is(err, unix.EEXIST) {
			var kept bool
			if kept, err = x.clear(pfd, base, true); err == nil && !kept {
				err = unix.Mkdirat(pfd, base, 0o700)
			}
		}
		if err != nil {
			return fmt.Errorf("mkdir: %w", err)
		}
	case tar.TypeReg, tar.TypeRegA:
		if err := x.budget.Add(hdr.Size); err != nil {
			return fmt.Errorf("write file: %w", err)
		}
		if x.batchable(hdr) {
			return x.addToBatch(pfd, name, dir, base, hdr, tr) // extract flushes it
		}
		var content io.Reader = tr
		if x.linker != nil {
			linked, rest, err := x.linker.link(x, pfd, dir, base, name, hdr, tr)
			if err != nil {
				return err
			}
			if linked {
				x.created[name] = true
				return nil // the earlier layer's file has every attribute
			}
			content = rest
		}
		// A name taken fails the create before content is read.
		if err := x.retry(pfd, base, func() error { return writeFile(ctx, pfd, base, content) }); err != nil {
			return err
		}
	case tar.TypeSymlink:
		err := x.retry(pfd, base, func() error { return unix.Symlinkat(hdr.Linkname, pfd, base) })
		if err != nil {
			return fmt.Errorf("symlink: %w", err)
		}
		symlink = true
	case tar.TypeLink:
		if x.linker != nil {
			if t, ok := cleanName(hdr.Linkname); ok {
				if err := x.linker.unshare(ctx, x, t); err != nil {
					return err
				}
			}
		}
		var st unix.Stat_t
		err := x.retry(pfd, base, func() error {
			var err error
			st, err = x.link(pfd, base, hdr.Linkname)
			return err
		})
		if err != nil {
			return err
		}
		symlink = st.Mode&unix.S_IFMT == unix.S_IFLNK
		if int(st.Uid) == hdr.Uid && int(st.Gid) == hdr.Gid {
			// A chown would only clear security.capability of the inode
			// the link shares; tars not made by us omit it on links.
			hdr.Uid, hdr.Gid = -1, -1
		}
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		typ := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		err := x.retry(pfd, base, func() error { return unix.Mknodat(pfd, base, typ|perm, int(dev)) })
		if err != nil {
			if (x.euid != 0 || x.userns) && errors.Is(err, unix.EPERM) {
				return nil // devices need privileges; skipped like Docker in a user namespace
			}
			return fmt.Errorf("mknod: %w", err)
		}
	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
	x.created[name] = true
	return x.metadata(pfd, base, name, hdr, symlink)
}

// retry runs create, and when base was taken clears it and runs create
// again.
func (x *extractor) retry(pfd int, base string, create func() error) error {
	err := create()
	if errors.Is(err, unix.EEXIST) {
		if _, err = x.clear(pfd, base, false); err == nil {
			err = create()
		}
	}
	return err
}

// clear removes what is at base, except a directory when keepDir (an
// entry for a directory only updates one that exists): it reports whether
// it kept one.
func (x *extractor) clear(pfd int, base string, keepDir bool) (bool, error) {
	var st unix.Stat_t
	if unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return false, nil // gone meanwhile
	}
	if keepDir && st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return true, nil
	}
	if err := os.RemoveAll(procPath(pfd, base)); err != nil {
		return false, fmt.Errorf("remove existing: %w", err)
	}
	// What went may be where a symlink led the kept directory's path.
	x.dirStale = true
	return false, nil
}

func writeFile(ctx context.Context, pfd int, base string, r io.Reader) error {
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create file: %w", err)
	}
	f := os.NewFile(uintptr(fd), base)
	_, err = ctxio.Copy(ctx, f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write file: %w", err)
	}
	return nil
}

// link makes a hard link to target (resolved inside the root, its last
// component not followed) and returns the linked inode's stat.
func (x *extractor) link(pfd int, base, target string) (unix.Stat_t, error) {
	var st unix.Stat_t
	t, ok := cleanName(target)
	if !ok || t == "." {
		return st, fmt.Errorf("hard link target %q escapes the root", target)
	}
	tdir, tbase := path.Split(t)
	tfd, err := x.root.openDir(path.Clean(tdir), false)
	if err != nil {
		return st, fmt.Errorf("hard link target %q: %w", target, err)
	}
	defer unix.Close(tfd)
	if err := unix.Linkat(tfd, tbase, pfd, base, 0); err != nil {
		return st, fmt.Errorf("hard link to %q: %w", target, err)
	}
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return st, fmt.Errorf("stat hard link: %w", err)
	}
	return st, nil
}

// metadata sets owner, xattrs, mode (after chown, which clears setuid) and
// times, like containerd's createTarFile.
func (x *extractor) metadata(pfd int, base, name string, hdr *tar.Header, symlink bool) error {
	if hdr.Uid >= 0 {
		if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			// Not root: the files stay the user's. Root of a user
			// namespace that does not map the id (no subordinate range):
			// the file stays owned by root of the namespace.
			unmapped := x.userns && errors.Is(err, unix.EINVAL)
			if !unmapped && (x.euid == 0 || !errors.Is(err, unix.EPERM)) {
				return fmt.Errorf("chown: %w", err)
			}
		}
	}
	for k, v := range hdr.PAXRecords {
		key, ok := strings.CutPrefix(k, paxXattr)
		if !ok || skipXattr(key) {
			continue
		}
		if err := unix.Lsetxattr(procPath(pfd, base), key, []byte(v), 0); err != nil {
			if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) && symlink {
				continue // the file system or the file type cannot hold it
			}
			return fmt.Errorf("set xattr %s: %w", key, err)
		}
	}
	if !symlink {
		if err := unix.Fchmodat(pfd, base, uint32(hdr.Mode)&0o7777, 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	atime := hdr.AccessTime
	if atime.Before(hdr.ModTime) {
		atime = hdr.ModTime
	}
	if hdr.Typeflag == tar.TypeDir {
		x.dirTimes = append(x.dirTimes, dirTime{name: name, atime: atime, mtime: hdr.ModTime})
		return nil
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	if err := unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

func (x *extractor) setTimes(name string, atime, mtime time.Time) error {
	dir, base := path.Split(name)
	pfd, err := x.root.openDir(path.Clean(dir), false)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	return unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
}

func (x *extractor) whiteout(dir, base string) error {
	if base == whiteoutOpaque {
		return x.opaque(dir)
	}
	if strings.HasPrefix(base, whiteoutMeta) {
		return nil // other AUFS metadata (.wh..wh.plnk and such) is ignored
	}
	target := strings.TrimPrefix(base, whiteoutPrefix)
	if target == "" || target == "." || target == ".." {
		return fmt.Errorf("invalid whiteout %q", base)
	}
	pfd, err := x.root.openDir(dir, x.mode == whiteoutsAsOverlay)
	if x.mode == whiteoutsDelete && (errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR)) {
		return nil // nothing there to delete
	}
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	if err := os.RemoveAll(procPath(pfd, target)); err != nil {
		return fmt.Errorf("remove %q: %w", target, err)
	}
	if x.mode == whiteoutsDelete {
		return nil
	}
	if err := unix.Mknodat(pfd, target, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("create whiteout: %w", err)
	}
	x.created[path.Join(dir, target)] = true
	return nil
}

func (x *extractor) opaque(dir string) error {
	pfd, err := x.root.openDir(dir, x.mode == whiteoutsAsOverlay)
	if x.mode == whiteoutsDelete && (errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR)) {
		return nil
	}
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	dfd, err := unix.Openat(pfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open directory: %w", err)
	}
	d := os.NewFile(uintptr(dfd), dir)
	defer d.Close()
	if x.mode == whiteoutsAsOverlay {
		name := opaqueXattr
		if x.userns {
			// trusted.* is the host root's; an overlay mounted in a user
			// namespace (userxattr) reads user.overlay.opaque.
			name = userOpaqueXattr
		}
		if err := unix.Fsetxattr(dfd, name, []byte("y"), 0); err != nil {
			return fmt.Errorf("mark opaque: %w", err)
		}
		return nil
	}
	names, err := d.Readdirnames(-1)
	if err != nil {
		return fmt.Errorf("read directory: %w", err)
	}
	for _, n := range names {
		if x.created[path.Join(dir, n)] {
			continue
		}
		if err := os.RemoveAll(procPath(dfd, n)); err != nil {
			return fmt.Errorf("remove %q: %w", n, err)
		}
	}
	return nil
}
