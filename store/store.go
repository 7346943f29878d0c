package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/builderdev/builder/internal/cpulimit"
)

// ErrNotFound is returned when a tag, digest or blob is not in the store.
var ErrNotFound = errors.New("not found")

// Store is a local store rooted at one directory. It is safe for concurrent
// use by several goroutines and several processes.
type Store struct {
	root string
	cpu  *cpulimit.Limiter
}

// Option configures Open.
type Option func(*Store)

// WithCPULimiter shares l for the store's CPU-bound work (layer
// compression) instead of a limiter of its own.
func WithCPULimiter(l *cpulimit.Limiter) Option { return func(s *Store) { s.cpu = l } }

// CPU is the limiter of CPU-bound work (hashing, compression, extraction)
// that users of this store share: one per store, NumCPU slots by default.
func (s *Store) CPU() *cpulimit.Limiter { return s.cpu }

// Open opens (creating if needed) the store at root and removes temp
// entries left behind by processes that no longer run.
func Open(root string, opts ...Option) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Store{root: abs}
	for _, o := range opts {
		o(s)
	}
	if s.cpu == nil {
		s.cpu = cpulimit.New(0)
	}
	for _, d := range []string{
		s.ociDir(), s.blobDir(), s.LayersDir(), s.CacheDir(), s.TmpDir(), s.locksDir(),
	} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("open store: %w", err)
		}
	}
	if err := s.initLayout(); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := s.cleanTmp(); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	return s, nil
}

// DefaultRoot returns the store root to use when none is given:
// $BUILDER_ROOT if set, /var/lib/builder for root (euid 0), otherwise
// $XDG_DATA_HOME/builder or $HOME/.local/share/builder. getenv is usually
// os.Getenv and euid os.Geteuid().
func DefaultRoot(getenv func(string) string, euid int) string {
	if r := getenv("BUILDER_ROOT"); r != "" {
		return r
	}
	if euid == 0 {
		return "/var/lib/builder"
	}
	if x := getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "builder")
	}
	return filepath.Join(getenv("HOME"), ".local", "share", "builder")
}

// Root returns the store's root directory (absolute).
func (s *Store) Root() string { return s.root }

// TmpDir returns root/tmp. Prefer MkdirTemp and CreateTemp, whose names let
// Open clean them up after a crash.
func (s *Store) TmpDir() string { return filepath.Join(s.root, "tmp") }

// LayersDir returns root/layers, where extracted layers live (one directory
// per diffID).
func (s *Store) LayersDir() string { return filepath.Join(s.root, "layers") }

// CacheDir returns root/cache, where cache records live.
func (s *Store) CacheDir() string { return filepath.Join(s.root, "cache") }

// OCIDir returns root/oci, the OCI image layout.
func (s *Store) OCIDir() string { return s.ociDir() }

func (s *Store) ociDir() string   { return filepath.Join(s.root, "oci") }
func (s *Store) blobDir() string  { return filepath.Join(s.root, "oci", "blobs", "sha256") }
func (s *Store) locksDir() string { return filepath.Join(s.root, "locks") }
func (s *Store) indexPath() string {
	return filepath.Join(s.root, "oci", "index.json")
}

// initLayout writes oci-layout and an empty index.json if they are missing.
func (s *Store) initLayout() error {
	layoutFile := filepath.Join(s.ociDir(), "oci-layout")
	if _, err := os.Stat(layoutFile); errors.Is(err, os.ErrNotExist) {
		if err := s.writeFileAtomic(layoutFile, []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	if _, err := os.Stat(s.indexPath()); errors.Is(err, os.ErrNotExist) {
		unlock, err := s.lockFile("index")
		if err != nil {
			return err
		}
		defer unlock()
		if _, err := os.Stat(s.indexPath()); errors.Is(err, os.ErrNotExist) {
			return s.writeIndex(&index{SchemaVersion: 2, MediaType: "application/vnd.oci.image.index.v1+json"})
		}
	} else if err != nil {
		return err
	}
	return nil
}
