package snapshot

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/builderdev/builder/internal/mount"
)

// Detect picks the overlay snapshotter if an overlay mount works in workDir
// (checked with a tiny mount that is removed at once), else fuse-overlayfs
// if it is installed and mounts (checked the same way), else the copy one.
// It returns the snapshotter and its name ("overlay", "fuse-overlayfs" or
// "copy").
func Detect(ctx context.Context, workDir string) (Snapshotter, string, error) {
	if err := os.MkdirAll(workDir, 0o700); err != nil {
		return nil, "", fmt.Errorf("create work dir: %w", err)
	}
	if err := probeOverlay(workDir, "overlay", "overlay", overlayOptions()); err == nil {
		s, err := NewOverlay(workDir)
		if err == nil {
			return s, "overlay", nil
		}
	}
	if bin, err := exec.LookPath(fuseOverlayProgram); err == nil {
		if err := probeOverlay(workDir, mount.FuseOverlay, bin, nil); err == nil {
			s, err := NewFuseOverlay(workDir)
			if err == nil {
				return s, mount.FuseOverlay, nil
			}
		}
	}
	s, err := NewCopy(workDir)
	if err != nil {
		return nil, "", err
	}
	return s, "copy", nil
}

// probeOverlay mounts a one-file overlay of type typ and unmounts it.
func probeOverlay(workDir, typ, source string, options []string) (err error) {
	dir, err := os.MkdirTemp(workDir, "probe-")
	if err != nil {
		return fmt.Errorf("create probe dir: %w", err)
	}
	defer os.RemoveAll(dir)
	for _, d := range []string{"l", "u", "w", "m"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			return fmt.Errorf("create probe dir: %w", err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "l", "f"), []byte("x"), 0o644); err != nil {
		return fmt.Errorf("write probe file: %w", err)
	}
	m := mount.Mount{Type: typ, Source: source, Dir: dir,
		Options: append(options, "lowerdir=l", "upperdir=u", "workdir=w")}
	target := filepath.Join(dir, "m")
	if err := m.MountAt(target); err != nil {
		return err
	}
	defer func() {
		if uerr := mount.Unmount(target); uerr != nil && err == nil {
			err = uerr
		}
	}()
	if _, err := os.Stat(filepath.Join(target, "f")); err != nil {
		return fmt.Errorf("probe overlay: %w", err)
	}
	return nil
}
