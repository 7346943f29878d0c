package filecopy

import (
	"archive/tar"
	"io"
	"io/fs"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// entry is one file of the layer being planned.
type entry struct {
	name string     // relative destination path, no trailing slash
	hdr  tar.Header // everything but Name (and Linkname of hard links)
	open func() (io.ReadCloser, error)

	// for regular files read from an FS: the stat cache and hard links
	fsys    FS
	srcName string
	fi      fs.FileInfo
	id      fileID
	linked  bool // id is set and the file has more than one link
	group   int  // the selected source it was copied from: links stay within one
	hardTo  string
}

type fileID struct{ dev, ino uint64 }

// tarMode converts a FileMode to tar's permission and special bits.
func tarMode(m fs.FileMode) int64 {
	v := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		v |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		v |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		v |= 0o1000
	}
	return v
}

// TarHeader builds the Docker-style header of fi: PAX, numeric ids only,
// mtime truncated to the second, no atime/ctime. ok is false for sockets and
// other types a layer cannot hold.
func TarHeader(fi fs.FileInfo) (hdr tar.Header, ok bool) {
	m := fi.Mode()
	hdr = tar.Header{
		Mode:    tarMode(m),
		ModTime: fi.ModTime().Truncate(time.Second),
		Format:  tar.FormatPAX,
	}
	switch {
	case m.IsRegular():
		hdr.Typeflag = tar.TypeReg
		hdr.Size = fi.Size()
	case m.IsDir():
		hdr.Typeflag = tar.TypeDir
	case m&fs.ModeSymlink != 0:
		hdr.Typeflag = tar.TypeSymlink
	case m&fs.ModeNamedPipe != 0:
		hdr.Typeflag = tar.TypeFifo
	case m&fs.ModeDevice != 0:
		hdr.Typeflag = tar.TypeBlock
		if m&fs.ModeCharDevice != 0 {
			hdr.Typeflag = tar.TypeChar
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			hdr.Devmajor = int64(unix.Major(uint64(st.Rdev)))
			hdr.Devminor = int64(unix.Minor(uint64(st.Rdev)))
		}
	default:
		return hdr, false
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
	}
	return hdr, true
}

// statID returns the device/inode of fi and its link count.
func statID(fi fs.FileInfo) (fileID, uint64, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, 0, false
	}
	return fileID{dev: uint64(st.Dev), ino: st.Ino}, uint64(st.Nlink), true
}

// lessPath orders names the way a directory walk does: component by
// component, so "a/x" comes before "a.b".
func lessPath(a, b string) int {
	for {
		ca, ra, _ := strings.Cut(a, "/")
		cb, rb, _ := strings.Cut(b, "/")
		if c := strings.Compare(ca, cb); c != 0 {
			return c
		}
		if ra == "" || rb == "" {
			return strings.Compare(ra, rb)
		}
		a, b = ra, rb
	}
}

// tarName is the name of e in the layer: directories end in "/".
func (e *entry) tarName() string {
	if e.hdr.Typeflag == tar.TypeDir {
		return e.name + "/"
	}
	return e.name
}
