package filecopy

import (
	"io/fs"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/layer"
)

// newStatInfo is the fs.FileInfo of the fstatat st (unix.Stat_t and
// syscall.Stat_t are the kernel's struct stat on Linux: the same layout).
func newStatInfo(name string, st *unix.Stat_t) fs.FileInfo {
	return layer.StatInfo(name, (*syscall.Stat_t)(unsafe.Pointer(st)))
}
