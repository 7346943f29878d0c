package snapshot

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/builderdev/builder/internal/mount"
)

// Detect picks the overlay snapshotter if an overlay mount works in workDir
// (checked with a tiny mount that is removed at once), else the copy one.
// It returns the snapshotter and its name ("overlay" or "copy").
func Detect(ctx context.Context, workDir string) (Snapshotter, string, error) {
	if err := os.MkdirAll(workDir, 0o700); err != nil {
		return nil, "", fmt.Errorf("create work dir: %w", err)
	}
	if err := probeOverlay(workDir); err == nil {
		s, err := NewOverlay(workDir)
		if err == nil {
			return s, "overlay", nil
		}
	}
	s, err := NewCopy(workDir)
	if err != nil {
		return nil, "", err
	}
	return s, "copy", nil
}

// probeOverlay mounts a one-file overlay and unmounts it.
func probeOverlay(workDir string) (err error) {
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
	m := mount.Mount{Type: "overlay", Source: "overlay", Dir: dir,
		Options: append(overlayOptions(), "lowerdir=l", "upperdir=u", "workdir=w")}
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
