package filecopy

import (
	"archive/tar"
	"io/fs"
)

// TarHeader is the layer header Docker writes for fi (type, mode bits,
// numeric owner, mtime in whole seconds, PAX); false for types a layer
// cannot hold (sockets).
func TarHeader(fi fs.FileInfo) (tar.Header, bool) {
	return headerFor(fi)
}
