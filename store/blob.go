package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/internal/ctxio"
)

// BlobPath returns where the blob with digest h is (or would be) stored.
func (s *Store) BlobPath(h v1.Hash) string {
	return filepath.Join(s.ociDir(), "blobs", h.Algorithm, h.Hex)
}

// HasBlob reports whether the blob with digest h is in the store.
func (s *Store) HasBlob(ctx context.Context, h v1.Hash) bool {
	if ctx.Err() != nil {
		return false
	}
	return s.hasBlob(h)
}

// hasBlob is HasBlob for callers that checked their context.
func (s *Store) hasBlob(h v1.Hash) bool {
	if h.Algorithm != "sha256" || len(h.Hex) != 64 {
		return false
	}
	fi, err := os.Stat(s.BlobPath(h))
	return err == nil && fi.Mode().IsRegular()
}

// OpenBlob opens the blob with digest h. It returns an error wrapping
// ErrNotFound if the blob is missing.
func (s *Store) OpenBlob(ctx context.Context, h v1.Hash) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open blob %s: %w", h, err)
	}
	return s.openBlob(h)
}

// openBlob is OpenBlob without a context, for v1.Layer methods.
func (s *Store) openBlob(h v1.Hash) (io.ReadCloser, error) {
	if h.Algorithm != "sha256" || len(h.Hex) != 64 {
		return nil, fmt.Errorf("open blob %s: invalid digest", h)
	}
	f, err := os.Open(s.BlobPath(h))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open blob %s: %w", h, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", h, err)
	}
	return f, nil
}

// WriteBlob stores the content of r as a blob and returns its digest and
// size. The blob appears in blobs/sha256 only once complete and synced;
// writing a blob that is already present is a no-op apart from reading r.
// mediaType is informational (blobs are stored by digest only).
func (s *Store) WriteBlob(ctx context.Context, mediaType string, r io.Reader) (v1.Hash, int64, error) {
	h, n, err := s.writeBlob(ctx, r, nil)
	if err != nil {
		return v1.Hash{}, 0, fmt.Errorf("write blob (%s): %w", mediaType, err)
	}
	return h, n, nil
}

// writeBlob copies r into a temp file while hashing it and renames it to
// its digest. If want is non-nil the digest must match it.
func (s *Store) writeBlob(ctx context.Context, r io.Reader, want *v1.Hash) (v1.Hash, int64, error) {
	f, err := s.CreateTemp(ctx, "blob-")
	if err != nil {
		return v1.Hash{}, 0, err
	}
	bw := &blobFile{f: f, h: sha256.New()}
	defer bw.abort()
	n, err := io.Copy(bw, ctxio.Reader(ctx, r))
	if err != nil {
		return v1.Hash{}, 0, err
	}
	h, err := bw.commit(ctx, s, want)
	if err != nil {
		return v1.Hash{}, 0, err
	}
	return h, n, nil
}

// blobFile is a temp file being filled with a blob and hashed on the way.
type blobFile struct {
	f    *os.File
	h    hash.Hash
	done bool
}

func (b *blobFile) Write(p []byte) (int, error) {
	n, err := b.f.Write(p)
	b.h.Write(p[:n])
	return n, err
}

func (b *blobFile) abort() {
	if b.done {
		return
	}
	b.done = true
	b.f.Close()
	os.Remove(b.f.Name())
}

// commit syncs the temp file and renames it into blobs/sha256. If a blob
// with the same digest already exists the temp file is dropped.
func (b *blobFile) commit(ctx context.Context, s *Store, want *v1.Hash) (v1.Hash, error) {
	if err := ctx.Err(); err != nil {
		return v1.Hash{}, err
	}
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(b.h.Sum(nil))}
	if want != nil && *want != h {
		return v1.Hash{}, fmt.Errorf("verify blob: digest %s, expected %s", h, *want)
	}
	unlock, err := s.BlobLock(ctx, false)
	if err != nil {
		return v1.Hash{}, err
	}
	defer unlock()
	if s.markBlob(h) {
		return h, nil // deferred abort removes the temp file
	}
	if err := b.f.Chmod(0o644); err != nil {
		return v1.Hash{}, fmt.Errorf("chmod blob: %w", err)
	}
	if err := b.f.Sync(); err != nil {
		return v1.Hash{}, fmt.Errorf("sync blob: %w", err)
	}
	if err := b.f.Close(); err != nil {
		return v1.Hash{}, fmt.Errorf("close blob: %w", err)
	}
	if err := os.Rename(b.f.Name(), s.BlobPath(h)); err != nil {
		return v1.Hash{}, fmt.Errorf("rename blob: %w", err)
	}
	b.done = true
	if err := syncDir(s.blobDir()); err != nil {
		return v1.Hash{}, err
	}
	return h, nil
}
