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

// linker finds the files of one extraction that an earlier layer has.
type linker struct {
	from   *inRoot
	buf    []byte
	linked map[string]bool // names linked from the earlier layer

	// The directory of the last lookup, on both sides, opened without
	// following symlinks; ok is false when either side does not have it.
	dir            string
	ok             bool
	fromFD         int
	newDev, newIno uint64
}

func newLinker(dir string) (*linker, error) {
	r, err := openRoot(dir)
	if err != nil {
		return nil, err
	}
	return &linker{from: r, linked: map[string]bool{}, fromFD: -1}, nil
}

func (k *linker) close() {
	if k.fromFD >= 0 {
		unix.Close(k.fromFD)
	}
	k.from.Close()
}

// openNoFollow opens the directory name below r's root one component at a
// time, following no symlink.
func openNoFollow(r *inRoot, name string) (int, error) {
	fd, err := r.root.OpenFD(".", unix.O_PATH|unix.O_DIRECTORY, 0)
	if err != nil || name == "." {
		return fd, err
	}
	for _, c := range strings.Split(name, "/") {
		next, err := unix.Openat(fd, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

// enter makes dir the directory of lookups: ok when both the earlier layer
// and the new one (x.root) have it at that path without a symlink.
func (k *linker) enter(x *extractor, dir string) {
	if dir == k.dir {
		return
	}
	if k.fromFD >= 0 {
		unix.Close(k.fromFD)
	}
	k.dir, k.ok, k.fromFD = dir, false, -1
	fromFD, err := openNoFollow(k.from, dir)
	if err != nil {
		return
	}
	newFD, err := openNoFollow(x.root, dir)
	if err != nil {
		unix.Close(fromFD)
		return
	}
	var st unix.Stat_t
	err = unix.Fstat(newFD, &st)
	unix.Close(newFD)
	if err != nil {
		unix.Close(fromFD)
		return
	}
	k.fromFD, k.ok, k.newDev, k.newIno = fromFD, true, st.Dev, st.Ino
}

// link reads the entry hdr from r and hard-links it into pfd as base from
// the earlier layer if that has it. Not linked, the entry's bytes are
// returned as the reader to create the file from.
func (k *linker) link(x *extractor, pfd int, dir, base, name string, hdr *tar.Header, r io.Reader) (bool, io.Reader, error) {
	if hdr.Size > maxLinkedFile || hdr.Uid < 0 || hdr.Gid < 0 || hasXattrs(hdr) {
		return false, r, nil
	}
	if int64(cap(k.buf)) < hdr.Size {
		k.buf = make([]byte, hdr.Size)
	}
	data := k.buf[:hdr.Size]
	if _, err := io.ReadFull(r, data); err != nil {
		return false, nil, fmt.Errorf("read file: %w", err)
	}
	k.enter(x, dir)
	if !k.ok || !k.sameDir(pfd) || !k.same(base, hdr, data) {
		return false, bytes.NewReader(data), nil
	}
	if err := unix.Linkat(k.fromFD, base, pfd, base, 0); err != nil {
		return false, bytes.NewReader(data), nil // gone meanwhile: create it
	}
	k.linked[name] = true
	return true, nil, nil
}

// sameDir reports whether pfd, the directory the entry goes to, is the one
// at its path without symlinks.
func (k *linker) sameDir(pfd int) bool {
	var st unix.Stat_t
	return unix.Fstat(pfd, &st) == nil && st.Dev == k.newDev && st.Ino == k.newIno
}

// same reports whether the earlier layer's base is the entry hdr with data.
func (k *linker) same(base string, hdr *tar.Header, data []byte) bool {
	fd, err := unix.Openat(k.fromFD, base, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	f := os.NewFile(uintptr(fd), base)
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != hdr.Size ||
		int(st.Uid) != hdr.Uid || int(st.Gid) != hdr.Gid || st.Mode&0o7777 != uint32(hdr.Mode)&0o7777 ||
		st.Mtim.Nano() != hdr.ModTime.UnixNano() {
		return false
	}
	if n, err := unix.Flistxattr(fd, nil); err != nil || n > 0 {
		return false
	}
	old := make([]byte, len(data)+1) // one more: a file grown since the stat differs
	n, err := io.ReadFull(f, old)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return false
	}
	return bytes.Equal(old[:n], data)
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
