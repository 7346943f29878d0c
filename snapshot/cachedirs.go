package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ErrCacheBusy is returned by CacheDirs.Lock with try set when another
// step holds the directory.
var ErrCacheBusy = errors.New("cache directory in use")

// CacheDirs holds the persistent directories of RUN --mount=type=cache,
// shared by every build (and every process) on one root. Which name a
// mount gets is the caller's business (the solver keys it).
type CacheDirs struct {
	root string
}

// NewCacheDirs returns the cache directories kept under root (created on
// first use).
func NewCacheDirs(root string) *CacheDirs { return &CacheDirs{root: root} }

// Ensure returns the directory name, creating it when it is missing: made
// with mode, uid and gid and filled by seed (when not nil) in a staging
// directory, then renamed into place, so that another build sees it whole
// or not at all. When two builds create it at once, the first rename wins.
func (c *CacheDirs) Ensure(ctx context.Context, name string, mode fs.FileMode, uid, gid int, seed func(ctx context.Context, dir string) error) (string, error) {
	dir := filepath.Join(c.root, name)
	if err := os.MkdirAll(c.root, 0o700); err != nil {
		return "", fmt.Errorf("create cache dirs: %w", err)
	}
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("stat cache dir: %w", err)
	}
	staging, err := os.MkdirTemp(c.root, ".new-")
	if err != nil {
		return "", fmt.Errorf("create cache dir: %w", err)
	}
	if err := os.Chmod(staging, mode); err != nil {
		os.RemoveAll(staging)
		return "", fmt.Errorf("create cache dir: %w", err)
	}
	if err := os.Chown(staging, uid, gid); err != nil {
		os.RemoveAll(staging)
		return "", fmt.Errorf("create cache dir: %w", err)
	}
	if seed != nil {
		if err := seed(ctx, staging); err != nil {
			os.RemoveAll(staging)
			return "", err
		}
	}
	if err := os.Rename(staging, dir); err != nil {
		os.RemoveAll(staging) // another build created it first
	}
	return dir, nil
}

// Lock takes the lock of directory name for one step until unlock is
// called: it waits for another holder (until ctx ends), or with try fails
// at once with ErrCacheBusy. The lock is a flock, so it holds across
// processes and dies with its holder.
func (c *CacheDirs) Lock(ctx context.Context, name string, try bool) (unlock func(), err error) {
	if err := os.MkdirAll(c.root, 0o700); err != nil {
		return nil, fmt.Errorf("lock cache dir: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(c.root, name)+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock cache dir: %w", err)
	}
	how := unix.LOCK_EX
	if try {
		how |= unix.LOCK_NB
	}
	if err := flockCtx(ctx, f, how); err != nil { // f is closed
		if try && errors.Is(err, unix.EWOULDBLOCK) {
			return nil, ErrCacheBusy
		}
		return nil, fmt.Errorf("lock cache dir: %w", err)
	}
	return func() { f.Close() }, nil
}

// flockCtx takes a flock, giving up when ctx is cancelled. On failure f
// is closed, by the time the flock call returns when ctx ended first (a
// lock that comes later is dropped with the file).
func flockCtx(ctx context.Context, f *os.File, how int) error {
	if how&unix.LOCK_NB != 0 {
		err := unix.Flock(int(f.Fd()), how)
		if err != nil {
			f.Close()
		}
		return err
	}
	done := make(chan error, 1)
	go func() { done <- unix.Flock(int(f.Fd()), how) }()
	select {
	case err := <-done:
		if err != nil {
			f.Close()
		}
		return err
	case <-ctx.Done():
		go func() { <-done; f.Close() }()
		return ctx.Err()
	}
}
