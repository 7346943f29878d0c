package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// A Lease marks blobs and extracted layers as in use by a running build so
// that pruning leaves them alone. It is a file in root/locks that its owner
// holds an flock on for its whole life; a lease whose owner died is no
// longer held and is ignored (and removed) by InUse.
type Lease struct {
	mu   sync.Mutex
	f    *os.File
	path string
}

const leasePrefix = "lease-"

// Lease starts a lease held by this process until Release.
func (s *Store) Lease(ctx context.Context) (*Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create lease: %w", err)
	}
	// Lock the file before it becomes visible in root/locks, so InUse never
	// sees it unheld while its owner lives.
	f, err := s.CreateTemp(ctx, "lease-")
	if err != nil {
		return nil, fmt.Errorf("create lease: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("lock lease: %w", err)
	}
	path := filepath.Join(s.locksDir(), leasePrefix+filepath.Base(f.Name()))
	if err := os.Rename(f.Name(), path); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("create lease: %w", err)
	}
	return &Lease{f: f, path: path}, nil
}

// Add records digests (blob digests or layer diffIDs) as in use.
func (l *Lease) Add(ctx context.Context, digests ...v1.Hash) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("add to lease: %w", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return errors.New("add to lease: lease released")
	}
	var b strings.Builder
	for _, d := range digests {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	if _, err := l.f.WriteString(b.String()); err != nil {
		return fmt.Errorf("add to lease: %w", err)
	}
	return nil
}

// Release ends the lease. It is safe to call more than once.
func (l *Lease) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := os.Remove(l.path)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	l.f = nil
	if err != nil {
		return fmt.Errorf("release lease: %w", err)
	}
	return nil
}

// InUse returns the digests recorded by all live leases (of every process
// sharing the root). Lease files of dead owners are removed.
func (s *Store) InUse(ctx context.Context) (map[v1.Hash]bool, error) {
	ents, err := os.ReadDir(s.locksDir())
	if err != nil {
		return nil, fmt.Errorf("list leases: %w", err)
	}
	out := map[v1.Hash]bool{}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("list leases: %w", err)
		}
		if !strings.HasPrefix(e.Name(), leasePrefix) {
			continue
		}
		if err := readLease(filepath.Join(s.locksDir(), e.Name()), out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readLease adds the digests of one lease file to out if its owner holds it,
// or removes the file if nobody does.
func readLease(path string, out map[v1.Hash]bool) error {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read lease: %w", err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err == nil {
		// Nobody holds it: the owner died without releasing.
		os.Remove(path)
		return nil
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if h, err := v1.NewHash(strings.TrimSpace(sc.Text())); err == nil {
			out[h] = true
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read lease: %w", err)
	}
	return nil
}
