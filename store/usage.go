package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Entry is one blob, extracted layer or cache mount directory as a scan
// saw it.
type Entry struct {
	// Size is in bytes of file content: apparent sizes of regular files
	// and symlinks, a hard-linked file once.
	Size int64
	// ModTime is the entry's last use: ReuseBlob and TouchLayer mark reused
	// blobs and layers.
	ModTime time.Time
}

// Usage is what the store's parts hold, as one scan saw them. Entries that
// vanish while it runs (other processes work on the same root) are skipped.
type Usage struct {
	Blobs  map[v1.Hash]Entry // root/oci/blobs, by digest
	Layers map[v1.Hash]Entry // extracted layers, by diffID
	// LayersSize is all of root/layers, extractions in progress included.
	LayersSize int64
	// CacheMounts are the RUN --mount=type=cache directories, by name.
	CacheMounts map[string]Entry
	// CacheMountsSize is all of root/cache-mounts, staging dirs included.
	CacheMountsSize int64
	Tmp             int64 // root/tmp, work in progress
}

// BlobsSize is the sum of the blobs' sizes.
func (u *Usage) BlobsSize() int64 {
	var n int64
	for _, b := range u.Blobs {
		n += b.Size
	}
	return n
}

// Usage scans the blobs, extracted layers, cache mounts and temp entries.
func (s *Store) Usage(ctx context.Context) (*Usage, error) {
	u := &Usage{Blobs: map[v1.Hash]Entry{}, Layers: map[v1.Hash]Entry{}, CacheMounts: map[string]Entry{}}
	ents, err := readDir(s.blobDir())
	if err != nil {
		return nil, fmt.Errorf("scan blobs: %w", err)
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("scan blobs: %w", err)
		}
		h, err := v1.NewHash("sha256:" + e.Name())
		if err != nil || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		u.Blobs[h] = Entry{Size: fi.Size(), ModTime: fi.ModTime()}
	}
	u.LayersSize, err = scanDirs(ctx, s.LayersDir(), func(name string, e Entry) {
		if isHex64(name) {
			u.Layers[v1.Hash{Algorithm: "sha256", Hex: name}] = e
		}
	})
	if err != nil {
		return nil, fmt.Errorf("scan layers: %w", err)
	}
	u.CacheMountsSize, err = scanDirs(ctx, s.CacheMountsDir(), func(name string, e Entry) {
		if !strings.HasPrefix(name, ".") {
			u.CacheMounts[name] = e
		}
	})
	if err != nil {
		return nil, fmt.Errorf("scan cache mounts: %w", err)
	}
	if u.Tmp, err = dirSize(ctx, s.TmpDir()); err != nil {
		return nil, fmt.Errorf("scan tmp: %w", err)
	}
	return u, nil
}

// scanDirs sizes every entry of dir, passes each directory to add and
// returns the total of all entries.
func scanDirs(ctx context.Context, dir string, add func(name string, e Entry)) (int64, error) {
	ents, err := readDir(dir)
	if err != nil {
		return 0, err
	}
	var total int64
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		size, err := dirSize(ctx, filepath.Join(dir, e.Name()))
		if err != nil {
			return 0, err
		}
		total += size
		if e.IsDir() {
			add(e.Name(), Entry{Size: size, ModTime: fi.ModTime()})
		}
	}
	return total, nil
}

// readDir lists dir; a missing dir is empty.
func readDir(dir string) ([]fs.DirEntry, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return ents, err
}

// dirSize sums the apparent sizes of the regular files and symlinks under
// p (or of p itself), counting each hard-linked inode once.
func dirSize(ctx context.Context, p string) (int64, error) {
	type ino struct{ dev, ino uint64 }
	seen := map[ino]bool{}
	var total int64
	err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil // removed while we walk
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() && d.Type()&fs.ModeSymlink == 0 {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			k := ino{uint64(st.Dev), st.Ino}
			if seen[k] {
				return nil
			}
			seen[k] = true
		}
		total += fi.Size()
		return nil
	})
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	return total, err
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}
