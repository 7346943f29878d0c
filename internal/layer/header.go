package layer

import (
	"archive/tar"
	"io/fs"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ModTime is t as a layer records it: truncated to the second, as Docker
// and BuildKit write their layers.
func ModTime(t time.Time) time.Time { return t.Truncate(time.Second) }

// TarHeader builds the Docker-style header of fi: PAX, numeric ids only,
// mtime truncated to the second, no atime/ctime, no name (the caller's). ok
// is false for sockets and other types a layer cannot hold.
func TarHeader(fi fs.FileInfo) (hdr tar.Header, ok bool) {
	m := fi.Mode()
	hdr = tar.Header{
		Mode:    tarMode(m),
		ModTime: ModTime(fi.ModTime()),
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

// Normalize is the Docker-style header of an entry read from another
// archive (ADD extracting a tar): its type, permission and special mode
// bits, numeric owner, device numbers and mtime truncated to the second, in
// PAX format. User and group names, atime/ctime, PAX records and xattrs are
// dropped. Name, Linkname and Size are left empty: they depend on where and
// how the caller writes the entry.
func Normalize(h *tar.Header) tar.Header {
	return tar.Header{
		Typeflag: h.Typeflag, Mode: h.Mode & 0o7777, Uid: h.Uid, Gid: h.Gid,
		ModTime: ModTime(h.ModTime), Format: tar.FormatPAX,
		Devmajor: h.Devmajor, Devminor: h.Devminor,
	}
}
