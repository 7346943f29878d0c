package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/fsroot"
)

// An extraction with WithLinkFrom(dir) hard-links a regular file from dir,
// an earlier extracted layer, instead of creating it, when dir holds at the
// same path (no symlink followed on either side) a file that is the entry
// exactly: the same bytes, size, mode, owner and mtime, and no extended
// attributes. Creating an inode is what an extraction of many small files
// spends its time on; a link is a directory entry. A rebuild after one
// file of a COPY changed links the others from the COPY's last layer.
//
// Extracted layers never change, so the shared inode is safe, and since a
// file is linked only to the same path of another layer, an overlay merge
// of layers still shows each inode at one path at most. What a RUN step can
// tell is the link count. The directory is a hint only: any content is
// compared, so a wrong or vanished one costs a lookup, never a wrong file.

// maxLinkedFile is the largest entry compared for a link; it is read into
// memory first. Larger files cost their bytes more than their inode.
const maxLinkedFile = 1 << 20

// WithLinkFrom makes an extraction hard-link unchanged files from the
// extracted layer directory dir ("": none).
func WithLinkFrom(dir string) ExtractOption {
	return func(o *extractOptions) { o.linkFrom = dir }
}

// WithLinkSources makes an extraction hard-link a regular file from the
// path on disk that source returns for its name, if that file is the entry
// exactly and has no other link: a COPY --from layer whose files are a
// stage's. The caller keeps the source out of the layers below this one,
// and one link count keeps one inode from two paths of one layer stack.
func WithLinkSources(source func(name string) (string, bool)) ExtractOption {
	return func(o *extractOptions) { o.linkSources = source }
}

// linker finds the files of one extraction that an earlier layer has.
type linker struct {
	from    *inRoot                     // WithLinkFrom, or nil
	sources func(string) (string, bool) // WithLinkSources, or nil
	buf     []byte
	linked  map[string]bool // names linked from the earlier layer

	// The directory of the last lookup (and the extractor's dirGen when
	// it was looked up): ok when both layers have it at that path without
	// a symlink and the entry's directory is that one.
	dir    string
	gen    uint64
	ok     bool
	fromFD int
}

// newLinker returns the linker of o, nil when o links nothing.
func newLinker(o extractOptions) *linker {
	k := &linker{sources: o.linkSources, linked: map[string]bool{}, fromFD: -1}
	if o.linkFrom != "" {
		// A hint only: a layer that cannot be opened links nothing.
		if r, err := openRoot(o.linkFrom); err == nil {
			k.from = r
		}
	}
	if k.from == nil && k.sources == nil {
		return nil
	}
	return k
}

func (k *linker) close() {
	if k.fromFD >= 0 {
		unix.Close(k.fromFD)
	}
	if k.from != nil {
		k.from.Close()
	}
}

// openNoFollow opens the directory name below r's root one component at a
// time, following no symlink.
func openNoFollow(r *inRoot, name string) (int, error) {
	fd, err := r.root.OpenFD(".", unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil || name == "." {
		return fd, err
	}
	defer unix.Close(fd)
	return fsroot.OpenDirNoSymlinks(fd, name)
}

// enter makes dir the directory of lookups: ok when both the earlier layer
// and the new one (x.root) have it at that path without a symlink, and pfd,
// where the entry goes, is the new one's.
func (k *linker) enter(x *extractor, dir string, pfd int) {
	if k.from == nil || (dir == k.dir && x.dirGen == k.gen) {
		return
	}
	if k.fromFD >= 0 {
		unix.Close(k.fromFD)
	}
	k.dir, k.gen, k.ok, k.fromFD = dir, x.dirGen, false, -1
	fromFD, err := openNoFollow(k.from, dir)
	if err != nil {
		return
	}
	newFD, err := openNoFollow(x.root, dir)
	if err != nil {
		unix.Close(fromFD)
		return
	}
	var want, got unix.Stat_t
	err = unix.Fstat(newFD, &want)
	unix.Close(newFD)
	if err != nil || unix.Fstat(pfd, &got) != nil || got.Dev != want.Dev || got.Ino != want.Ino {
		unix.Close(fromFD)
		return
	}
	k.fromFD, k.ok = fromFD, true
}

// link reads the entry hdr from r and hard-links it into pfd as base from
// the earlier layer if that has it. Not linked, the entry's bytes are
// returned as the reader to create the file from.
func (k *linker) link(x *extractor, pfd int, dir, base, name string, hdr *tar.Header, r io.Reader) (bool, io.Reader, error) {
	if hdr.Size > maxLinkedFile || hdr.Uid < 0 || hdr.Gid < 0 || hasXattrs(hdr) {
		return false, r, nil
	}
	var src string
	srcOK := false
	if k.sources != nil {
		src, srcOK = k.sources(name)
	}
	if !srcOK && k.from == nil {
		return false, r, nil // nothing to link it from: no need to read it first
	}
	if int64(cap(k.buf)) < hdr.Size {
		k.buf = make([]byte, hdr.Size)
	}
	data := k.buf[:hdr.Size]
	if _, err := io.ReadFull(r, data); err != nil {
		return false, nil, fmt.Errorf("read file: %w", err)
	}
	if srcOK && sameFile(unix.AT_FDCWD, src, hdr, data, true) && unix.Linkat(unix.AT_FDCWD, src, pfd, base, 0) == nil {
		k.linked[name] = true
		return true, nil, nil
	}
	k.enter(x, dir, pfd)
	if !k.ok || !k.linkFrom(pfd, base, hdr, data) {
		return false, bytes.NewReader(data), nil
	}
	k.linked[name] = true
	return true, nil, nil
}

// linkFrom hard-links base into pfd from the earlier layer's directory
// entered (enter, k.ok) if the file there is the entry hdr with data. A
// link that fails (the file gone meanwhile, the name taken) is no link:
// the caller creates the file. Safe to call from several goroutines for
// different names.
func (k *linker) linkFrom(pfd int, base string, hdr *tar.Header, data []byte) bool {
	return sameFile(k.fromFD, base, hdr, data, false) && unix.Linkat(k.fromFD, base, pfd, base, 0) == nil
}

// sameFile reports whether the file name in dirfd is the entry hdr with
// data; with onlyLink, also that it has no other link.
func sameFile(dirfd int, name string, hdr *tar.Header, data []byte, onlyLink bool) bool {
	// A descriptor, not an *os.File (see fsroot.File): this runs once per
	// file of an extraction.
	fd, err := unix.Openat(dirfd, name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != hdr.Size ||
		(onlyLink && st.Nlink != 1) ||
		int(st.Uid) != hdr.Uid || int(st.Gid) != hdr.Gid || st.Mode&0o7777 != uint32(hdr.Mode)&0o7777 ||
		st.Mtim.Nano() != hdr.ModTime.UnixNano() {
		return false
	}
	if n, err := unix.Flistxattr(fd, nil); err != nil || n > 0 {
		return false
	}
	// One read of one byte more than the entry: a file grown since the
	// stat differs. A read that returns less than a local regular file
	// has does not happen; where it would, it only costs the link.
	old := make([]byte, len(data)+1)
	n, err := fsroot.NewFile(fd).Read(old)
	if errors.Is(err, io.EOF) { // an empty file
		err = nil
	}
	return err == nil && n == len(data) && bytes.Equal(old[:n], data)
}

// unshare gives name, linked from the earlier layer, an inode of its own
// (same bytes and attributes), before a hard link entry of the new layer
// may change the inode's attributes.
func (k *linker) unshare(ctx context.Context, x *extractor, name string) error {
	if !k.linked[name] {
		return nil
	}
	delete(k.linked, name)
	dir, base := path.Split(name)
	pfd, err := x.root.openDir(path.Clean(dir), false)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	fd, err := unix.Openat(pfd, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return nil // gone or not a file: nothing is shared
	}
	src := os.NewFile(uintptr(fd), base)
	defer src.Close()
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("unshare %s: %w", name, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Nlink < 2 {
		return nil // replaced by a later entry since it was linked
	}
	tmp := ".builder-unshare-" + base
	if len(tmp) > 255 {
		tmp = tmp[:255]
	}
	_ = unix.Unlinkat(pfd, tmp, 0)
	if err := writeFile(ctx, pfd, tmp, src); err != nil {
		return fmt.Errorf("unshare %s: %w", name, err)
	}
	hdr := &tar.Header{Uid: int(st.Uid), Gid: int(st.Gid), Mode: int64(st.Mode & 0o7777), Typeflag: tar.TypeReg,
		ModTime: timespecTime(st.Mtim), AccessTime: timespecTime(st.Atim)}
	if err := x.metadata(pfd, tmp, "", hdr, false); err != nil {
		unix.Unlinkat(pfd, tmp, 0)
		return fmt.Errorf("unshare %s: %w", name, err)
	}
	if err := unix.Renameat(pfd, tmp, pfd, base); err != nil {
		unix.Unlinkat(pfd, tmp, 0)
		return fmt.Errorf("unshare %s: %w", name, err)
	}
	return nil
}

func timespecTime(ts unix.Timespec) time.Time { return time.Unix(ts.Sec, ts.Nsec) }

func hasXattrs(hdr *tar.Header) bool {
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, paxXattr) {
			return true
		}
	}
	return false
}
