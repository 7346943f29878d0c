package snapshot

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/ctxio"
)

// whiteoutTime is the time of whiteout entries. containerd uses the diff's
// start time unless told otherwise; a fixed time keeps layers reproducible.
func whiteoutTime() time.Time { return time.Unix(0, 0).UTC() }

type changeKind int

const (
	changeAdd changeKind = iota
	changeModify
	changeUnmodified
)

// diffWriter writes layer tar entries the way containerd's
// archive.ChangeWriter does: PAX format, mtimes truncated to seconds, no
// atime/ctime, directories with a trailing slash, parents of every entry
// included, hard links inside the layer as tar links to the first path.
// Uname and Gname stay empty as Docker writes them (containerd looks the ids
// up in the host's user database, which would leak host names into layers).
// Unlike containerd it carries every xattr but trusted.overlay.* and
// security.selinux, and writes opaque directories the way Docker does.
type diffWriter struct {
	ctx       context.Context
	tw        *tar.Writer
	source    string
	inodeSrc  map[uint64]string
	inodeRefs map[uint64][]string
	addedDirs map[string]bool
}

func newDiffWriter(ctx context.Context, tw *tar.Writer, source string) *diffWriter {
	return &diffWriter{ctx: ctx, tw: tw, source: source, inodeSrc: map[uint64]string{},
		inodeRefs: map[uint64][]string{}, addedDirs: map[string]bool{}}
}

// whiteout records the deletion of name.
func (d *diffWriter) whiteout(name string) error {
	dir, base := path.Split(name)
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: dir + whiteoutPrefix + base,
		ModTime: whiteoutTime(), AccessTime: whiteoutTime(), ChangeTime: whiteoutTime()}
	if err := d.includeParents(hdr.Name); err != nil {
		return err
	}
	if err := d.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write whiteout header: %w", err)
	}
	return nil
}

// opaque marks the directory name (already written) as opaque.
func (d *diffWriter) opaque(name string, dirHdr *tar.Header) error {
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name + "/" + whiteoutOpaque, Format: tar.FormatPAX,
		Mode: dirHdr.Mode & 0o777, Uid: dirHdr.Uid, Gid: dirHdr.Gid, Uname: dirHdr.Uname, Gname: dirHdr.Gname,
		ModTime: whiteoutTime()}
	if err := d.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write opaque header: %w", err)
	}
	return nil
}

// change writes the entry name (fi is its Lstat info in source).
func (d *diffWriter) change(kind changeKind, name string, fi fs.FileInfo) (*tar.Header, error) {
	if err := d.ctx.Err(); err != nil {
		return nil, err
	}
	src := filepath.Join(d.source, name)
	var link string
	switch {
	case fi.Mode()&fs.ModeSocket != 0:
		return nil, nil // sockets are not carried in layers
	case fi.Mode()&fs.ModeSymlink != 0:
		l, err := os.Readlink(src)
		if err != nil {
			return nil, fmt.Errorf("read link: %w", err)
		}
		link = l
	}
	hdr, err := tar.FileInfoHeader(noNames{fi}, link)
	if err != nil {
		return nil, fmt.Errorf("make header for %s: %w", name, err)
	}
	hdr.Format = tar.FormatPAX
	hdr.ModTime = hdr.ModTime.Truncate(time.Second)
	hdr.AccessTime = time.Time{}
	hdr.ChangeTime = time.Time{}
	hdr.Name = name
	if fi.IsDir() {
		if d.addedDirs[name] && kind != changeUnmodified {
			return hdr, nil // already written as a parent
		}
		hdr.Name += "/"
	}
	var additional []string
	st, _ := fi.Sys().(*syscall.Stat_t)
	if st != nil && !fi.IsDir() && st.Nlink > 1 {
		if first, ok := d.inodeSrc[st.Ino]; ok {
			hdr.Typeflag = tar.TypeLink
			hdr.Linkname = first
			hdr.Size = 0
		} else {
			if kind == changeUnmodified {
				d.inodeRefs[st.Ino] = append(d.inodeRefs[st.Ino], hdr.Name)
				return hdr, nil
			}
			d.inodeSrc[st.Ino] = hdr.Name
			additional = d.inodeRefs[st.Ino]
			delete(d.inodeRefs, st.Ino)
		}
	} else if kind == changeUnmodified {
		return hdr, nil
	}
	if err := d.xattrs(hdr, src); err != nil {
		return nil, err
	}
	if err := d.includeParents(hdr.Name); err != nil {
		return nil, err
	}
	if err := d.tw.WriteHeader(hdr); err != nil {
		return nil, fmt.Errorf("write header for %s: %w", name, err)
	}
	if fi.IsDir() {
		d.addedDirs[name] = true
	}
	if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
		if err := d.content(src, hdr.Size); err != nil {
			return nil, fmt.Errorf("write %s: %w", name, err)
		}
	}
	for _, extra := range additional {
		l := *hdr
		l.Name, l.Typeflag, l.Linkname, l.Size = extra, tar.TypeLink, hdr.Name, 0
		if err := d.includeParents(l.Name); err != nil {
			return nil, err
		}
		if err := d.tw.WriteHeader(&l); err != nil {
			return nil, fmt.Errorf("write header for %s: %w", extra, err)
		}
	}
	return hdr, nil
}

func (d *diffWriter) content(src string, size int64) error {
	f, err := os.OpenFile(src, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := ctxio.Copy(d.ctx, d.tw, f)
	if err != nil {
		return err
	}
	if n != size {
		return errors.New("file changed size while being written")
	}
	return nil
}

func (d *diffWriter) xattrs(hdr *tar.Header, src string) error {
	xs, err := listXattrs(src)
	if err != nil {
		return err
	}
	for k, v := range xs {
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords[paxXattr+k] = v
	}
	return nil
}

// includeParents writes the parent directories of name not written yet,
// the root excepted.
func (d *diffWriter) includeParents(name string) error {
	parent := path.Dir(strings.TrimSuffix(name, "/"))
	if parent == "." || d.addedDirs[parent] {
		return nil
	}
	fi, err := os.Stat(filepath.Join(d.source, parent))
	if err != nil {
		return fmt.Errorf("stat parent: %w", err)
	}
	_, err = d.change(changeModify, parent, fi)
	return err
}

func (d *diffWriter) close() error {
	if err := d.tw.Close(); err != nil {
		return fmt.Errorf("close layer tar: %w", err)
	}
	return nil
}

// listXattrs returns the xattrs of p that layers carry.
func listXattrs(p string) (map[string]string, error) {
	size, err := unix.Llistxattr(p, nil)
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		return nil, fmt.Errorf("list xattrs of %s: %w", p, err)
	}
	if size == 0 {
		return nil, nil
	}
	buf := make([]byte, size)
	size, err = unix.Llistxattr(p, buf)
	if err != nil {
		return nil, fmt.Errorf("list xattrs of %s: %w", p, err)
	}
	var names []string
	for _, n := range strings.Split(string(buf[:size]), "\x00") {
		if n != "" && !skipXattr(n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := map[string]string{}
	for _, n := range names {
		vsize, err := unix.Lgetxattr(p, n, nil)
		if err != nil {
			return nil, fmt.Errorf("get xattr %s of %s: %w", n, p, err)
		}
		v := make([]byte, vsize)
		vsize, err = unix.Lgetxattr(p, n, v)
		if err != nil {
			return nil, fmt.Errorf("get xattr %s of %s: %w", n, p, err)
		}
		out[n] = string(v[:vsize])
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// noNames keeps archive/tar from looking up user and group names.
type noNames struct{ fs.FileInfo }

func (noNames) Uname() (string, error) { return "", nil }
func (noNames) Gname() (string, error) { return "", nil }

var _ tar.FileInfoNames = noNames{}
