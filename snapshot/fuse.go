package snapshot

import (
	"fmt"
	"os"
	"os/exec"
)

// fuseOverlayProgram is Debian's fuse-overlayfs, looked up in PATH.
const fuseOverlayProgram = "fuse-overlayfs"

// NewFuseOverlay returns the overlay snapshotter served by fuse-overlayfs
// (for a user namespace whose kernel cannot mount overlay there, before
// 5.11): the same upper and work directories and the same diff as the
// kernel's overlay, with fuse-overlayfs's own whiteout and opaque marks
// read as well.
func NewFuseOverlay(workDir string) (Snapshotter, error) {
	bin, err := exec.LookPath(fuseOverlayProgram)
	if err != nil {
		return nil, fmt.Errorf("find %s: %w", fuseOverlayProgram, err)
	}
	if err := os.MkdirAll(workDir, 0o700); err != nil {
		return nil, fmt.Errorf("create work dir: %w", err)
	}
	return &overlay{workDir: workDir, fuse: bin}, nil
}
