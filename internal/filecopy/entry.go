package filecopy

import (
	"archive/tar"
	"io"
	"io/fs"
	"strings"
	"syscall"
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
	sum     string // hex sha256 of the content, once the plan's checksum read it
	id      fileID
	linked  bool // id is set and the file has more than one link
	group   int  // the selected source it was copied from: links stay within one
	hardTo  string
}

type fileID struct{ dev, ino uint64 }

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
	return strings.Compare(walkKey(a), walkKey(b))
}

// walkKey is name with "/" made the lowest byte: plain comparison of two
// keys orders their names component by component (a name has no NUL).
func walkKey(name string) string {
	return strings.ReplaceAll(name, "/", "\x00")
}

type keyedEntry struct {
	key string
	e   *entry
}

// tarName is the name of e in the layer: directories end in "/".
func (e *entry) tarName() string {
	if e.hdr.Typeflag == tar.TypeDir {
		return e.name + "/"
	}
	return e.name
}
