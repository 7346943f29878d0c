package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/moby/sys/mountinfo"
	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/procowner"
)

// Temp entries in root/tmp are named "<pid>-<starttime>-<pattern><random>"
// (procowner.Tag), so a reused pid is not mistaken for the process that
// created the entry.

// CreateTemp creates a temp file in root/tmp named so that Open removes it
// if this process dies before removing or renaming it.
func (s *Store) CreateTemp(ctx context.Context, pattern string) (*os.File, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create temp file: %w", err)
	}
	return s.createTemp(pattern)
}

// createTemp is CreateTemp for Open and the index and layout writes, which
// have no context.
func (s *Store) createTemp(pattern string) (*os.File, error) {
	f, err := os.CreateTemp(s.TmpDir(), procowner.Tag()+pattern)
	if err != nil {
		return nil, fmt.Errorf("create temp file: %w", err)
	}
	return f, nil
}

// MkdirTemp creates a temp directory in root/tmp named so that Open removes
// it (after detaching mounts below it) if this process dies.
func (s *Store) MkdirTemp(ctx context.Context, pattern string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("create temp dir: %w", err)
	}
	d, err := os.MkdirTemp(s.TmpDir(), procowner.Tag()+pattern)
	if err != nil {
		return "", fmt.Errorf("create temp dir: %w", err)
	}
	return d, nil
}

// cleanTmp removes the entries of root/tmp whose creating process is dead.
// Entries with names not made by CreateTemp/MkdirTemp are left alone, and
// so is one that cannot be removed yet: a RUN of a build killed a moment
// ago may still be dying, its overlay (in the step's own mount namespace,
// out of unmountBelow's reach) still writing into the entry's work dir.
// It is garbage either way, and a later open removes it.
func (s *Store) cleanTmp() error {
	ents, err := os.ReadDir(s.TmpDir())
	if err != nil {
		return err
	}
	for _, e := range ents {
		if !procowner.Gone(e.Name()) {
			continue
		}
		p := filepath.Join(s.TmpDir(), e.Name())
		if e.IsDir() {
			if err := unmountBelow(p); err != nil {
				continue // never remove through a mount we could not detach
			}
		}
		_ = os.RemoveAll(p)
	}
	return nil
}

// unmountBelow detaches every mount at or below dir, deepest first.
func unmountBelow(dir string) error {
	infos, err := mountinfo.GetMounts(mountinfo.PrefixFilter(dir))
	if err != nil {
		return fmt.Errorf("read mountinfo: %w", err)
	}
	sort.Slice(infos, func(i, j int) bool { return len(infos[i].Mountpoint) > len(infos[j].Mountpoint) })
	for _, m := range infos {
		if err := unix.Unmount(m.Mountpoint, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("unmount %s: %w", m.Mountpoint, err)
		}
	}
	return nil
}

// writeFileAtomic writes data to path via a synced temp file and rename.
func (s *Store) writeFileAtomic(path string, data []byte) error {
	f, err := s.createTemp("file-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync %s: %w", filepath.Base(path), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", filepath.Base(path), err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", filepath.Base(path), err)
	}
	return syncDir(filepath.Dir(path))
}

// syncDir fsyncs a directory so a rename into it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	return nil
}
