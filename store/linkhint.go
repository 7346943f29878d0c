package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Link hints remember, per step (the caller's key: a COPY's arguments), the
// diffID of the layer it made last, in root/link-hints. The next extraction
// of that step's layer hard-links its unchanged files from that layer's
// directory (snapshot.WithLinkFrom). A hint is only a hint: the extraction
// compares every file, so a stale one costs a lookup.

func (s *Store) linkHintPath(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(s.root, "link-hints", hex.EncodeToString(sum[:]))
}

// LinkHint returns the directory of the layer last recorded for key, if
// that layer is extracted.
func (s *Store) LinkHint(key string) (string, bool) {
	data, err := os.ReadFile(s.linkHintPath(key))
	if err != nil {
		return "", false
	}
	return s.hintDir(data)
}

// hintDir is the extracted layer directory a hint file's content names.
func (s *Store) hintDir(data []byte) (string, bool) {
	h, err := v1.NewHash(strings.TrimSpace(string(data)))
	if err != nil || validDiffID(h) != nil {
		return "", false
	}
	dir := s.LayerDir(h)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return "", false
	}
	return dir, true
}

// RecordLinkHint records diffID as the layer last made for key.
func (s *Store) RecordLinkHint(key string, diffID v1.Hash) error {
	p := s.linkHintPath(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("record link hint: %w", err)
	}
	if err := s.writeFileAtomic(p, []byte(diffID.String())); err != nil {
		return fmt.Errorf("record link hint: %w", err)
	}
	return nil
}

// PruneLinkHints removes the hints whose layer directory is gone and
// returns how many it removed. Prune calls it after removing layers.
func (s *Store) PruneLinkHints(ctx context.Context) (int, error) {
	n, err := pruneRecords(ctx, filepath.Join(s.root, "link-hints"), func(_ string, data []byte) bool {
		_, ok := s.hintDir(data)
		return ok
	})
	if err != nil {
		return n, fmt.Errorf("prune link hints: %w", err)
	}
	return n, nil
}
