package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// sameAttrs reports whether two entries match in what decides a change the
// way containerd's continuity (fs.Changes, sameFile) and BuildKit's overlay
// differ (sameDirent) decide it: type and permission bits, owner and device
// number, and for non-directories the size. It compares every xattr a layer
// carries where containerd compares only security.capability: a layer made
// here carries the others too, so a change of one must show.
//
// Directory mtimes are never compared, as in containerd and Docker (moby
// issue 9874): creating and removing an entry changes them, and a directory
// whose only change is its mtime is not written to the layer (it still is,
// with its new mtime, as the parent of a changed entry).
func sameAttrs(p1 string, fi1 fs.FileInfo, p2 string, fi2 fs.FileInfo) (bool, error) {
	a, ok1 := fi1.Sys().(*syscall.Stat_t)
	b, ok2 := fi2.Sys().(*syscall.Stat_t)
	if !ok1 || !ok2 {
		return false, nil
	}
	if a.Mode != b.Mode || a.Uid != b.Uid || a.Gid != b.Gid || a.Rdev != b.Rdev {
		return false, nil
	}
	if !fi1.IsDir() && a.Size != b.Size {
		return false, nil
	}
	x1, err := listXattrs(p1)
	if err != nil {
		return false, err
	}
	x2, err := listXattrs(p2)
	if err != nil {
		return false, err
	}
	if len(x1) != len(x2) {
		return false, nil
	}
	for k, v := range x1 {
		if w, ok := x2[k]; !ok || w != v {
			return false, nil
		}
	}
	return true, nil
}

// sameCopiedUp reports whether the upper entry (copied up by overlayfs) is
// unchanged from the lower one, as BuildKit's overlay differ decides: same
// attributes and, for non-directories, the same mtime second; when both
// mtimes have no nanoseconds (the lower one came from a tar, so a rewrite
// restoring the second cannot be told from the times) the symlink targets
// or contents are compared, otherwise the nanoseconds must match.
func sameCopiedUp(upper string, ufi fs.FileInfo, lower string, lfi fs.FileInfo) (bool, error) {
	same, err := sameAttrs(upper, ufi, lower, lfi)
	if err != nil || !same || ufi.IsDir() {
		return same, err
	}
	t1, t2 := ufi.ModTime(), lfi.ModTime()
	if t1.Unix() != t2.Unix() {
		return false, nil
	}
	if t1.Nanosecond() != 0 || t2.Nanosecond() != 0 {
		return t1.Nanosecond() == t2.Nanosecond(), nil
	}
	switch {
	case ufi.Mode()&fs.ModeSymlink != 0:
		l1, err := os.Readlink(upper)
		if err != nil {
			return false, fmt.Errorf("read link: %w", err)
		}
		l2, err := os.Readlink(lower)
		if err != nil {
			return false, fmt.Errorf("read link: %w", err)
		}
		return l1 == l2, nil
	case ufi.Mode().IsRegular() && ufi.Size() > 0:
		return sameContent(upper, lower)
	}
	return true, nil
}

// sameContent compares two regular files byte for byte.
func sameContent(p1, p2 string) (bool, error) {
	f1, err := os.OpenFile(p1, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return false, fmt.Errorf("compare contents: %w", err)
	}
	defer f1.Close()
	f2, err := os.OpenFile(p2, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return false, fmt.Errorf("compare contents: %w", err)
	}
	defer f2.Close()
	b1, b2 := make([]byte, 32<<10), make([]byte, 32<<10)
	for {
		n1, err1 := io.ReadFull(f1, b1)
		n2, err2 := io.ReadFull(f2, b2)
		if !bytes.Equal(b1[:n1], b2[:n2]) {
			return false, nil
		}
		end1 := errors.Is(err1, io.EOF) || errors.Is(err1, io.ErrUnexpectedEOF)
		end2 := errors.Is(err2, io.EOF) || errors.Is(err2, io.ErrUnexpectedEOF)
		switch {
		case err1 != nil && !end1:
			return false, fmt.Errorf("compare contents: %w", err1)
		case err2 != nil && !end2:
			return false, fmt.Errorf("compare contents: %w", err2)
		case end1 || end2:
			return end1 == end2, nil
		}
	}
}
