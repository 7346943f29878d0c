package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/internal/procowner"
)

// Problem is one thing Fsck found wrong.
type Problem struct {
	// Kind is "blob" (content does not match its digest), "tag" (an
	// image whose closure is incomplete or damaged), "layer" (an orphaned
	// entry of the extracted layers directory) or, from the cache, "record".
	Kind string
	// Name is the blob digest, the tag, the layers directory entry or the
	// record's key.
	Name string
	// Detail says what is wrong.
	Detail string
	// Repaired: --repair dropped it.
	Repaired bool
}

func (p Problem) String() string {
	s := fmt.Sprintf("%s %s: %s", p.Kind, p.Name, p.Detail)
	if p.Repaired {
		s += " (dropped)"
	}
	return s
}

// FsckReport is what Fsck checked and found.
type FsckReport struct {
	Tags, Blobs, Layers int // how many of each were checked
	Problems            []Problem
}

// Fsck checks the store: every blob's content matches its digest, every
// tag's closure (manifest, config, layers; an index's manifests) is present
// and intact, and the extracted layers directory holds nothing orphaned
// (extractions or removals left by dead processes, foreign entries). With
// repair it drops what is broken — damaged blobs, tags whose closure is
// incomplete, orphaned entries — and never a healthy blob a tag uses. It
// holds the GC lock, so no prune runs meanwhile.
func (s *Store) Fsck(ctx context.Context, repair bool) (*FsckReport, error) {
	unlock, err := s.LockGC(ctx)
	if err != nil {
		return nil, fmt.Errorf("check store: %w", err)
	}
	defer unlock()
	rep := &FsckReport{}
	bad, err := s.fsckBlobs(ctx, rep, repair)
	if err != nil {
		return nil, err
	}
	if err := s.fsckTags(ctx, rep, bad, repair); err != nil {
		return nil, err
	}
	if err := s.fsckLayers(ctx, rep, repair); err != nil {
		return nil, err
	}
	return rep, nil
}

// fsckBlobs hashes every blob and returns the damaged ones.
func (s *Store) fsckBlobs(ctx context.Context, rep *FsckReport, repair bool) (map[v1.Hash]bool, error) {
	ents, err := readDir(s.blobDir())
	if err != nil {
		return nil, fmt.Errorf("check blobs: %w", err)
	}
	bad := map[v1.Hash]bool{}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("check blobs: %w", err)
		}
		if strings.HasPrefix(e.Name(), ".") {
			continue // work in progress of WriteBlob
		}
		h := v1.Hash{Algorithm: "sha256", Hex: e.Name()}
		rep.Blobs++
		detail, err := s.checkBlob(h)
		if err != nil {
			return nil, err
		}
		if detail == "" {
			continue
		}
		bad[h] = true
		p := Problem{Kind: "blob", Name: h.String(), Detail: detail}
		if repair {
			if err := os.Remove(s.BlobPath(h)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("drop blob %s: %w", h, err)
			}
			p.Repaired = true
		}
		rep.Problems = append(rep.Problems, p)
	}
	return bad, nil
}

// checkBlob says what is wrong with blob h, "" if nothing.
func (s *Store) checkBlob(h v1.Hash) (string, error) {
	if !isHex64(h.Hex) {
		return "not a sha256 digest", nil
	}
	f, err := os.Open(s.BlobPath(h))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil // a prune removed it meanwhile
	}
	if err != nil {
		return "", fmt.Errorf("check blob %s: %w", h, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("check blob %s: %w", h, err)
	}
	if !fi.Mode().IsRegular() {
		return "not a regular file", nil
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, f); err != nil {
		return "", fmt.Errorf("check blob %s: %w", h, err)
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != h.Hex {
		return "content has digest sha256:" + got, nil
	}
	return "", nil
}

// fsckTags checks each tag's closure and, with repair, drops the tags
// whose closure is broken.
func (s *Store) fsckTags(ctx context.Context, rep *FsckReport, bad map[v1.Hash]bool, repair bool) error {
	idx, err := s.readIndex()
	if err != nil {
		return fmt.Errorf("check tags: %w", err)
	}
	broken := map[v1.Hash]string{}
	for _, d := range idx.Manifests {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("check tags: %w", err)
		}
		rep.Tags++
		if detail := s.closureProblem(d, bad, 0); detail != "" {
			broken[d.Digest] = detail
			name := d.Annotations[RefNameAnnotation]
			if name == "" {
				name = d.Digest.String()
			}
			rep.Problems = append(rep.Problems, Problem{Kind: "tag", Name: name, Detail: detail, Repaired: repair})
		}
	}
	if !repair || len(broken) == 0 {
		return nil
	}
	return s.updateIndex(ctx, func(idx *index) error {
		kept := idx.Manifests[:0]
		for _, d := range idx.Manifests {
			if _, ok := broken[d.Digest]; !ok {
				kept = append(kept, d)
			}
		}
		idx.Manifests = kept
		return nil
	})
}

// closureProblem says what of d's closure is missing or damaged.
func (s *Store) closureProblem(d v1.Descriptor, bad map[v1.Hash]bool, depth int) string {
	raw, detail := s.fsckBlob(d.Digest, "manifest", bad)
	if detail != "" {
		return detail
	}
	if depth > 8 {
		return "manifest " + d.Digest.String() + ": indexes nested too deep"
	}
	var m struct {
		Manifests []v1.Descriptor `json:"manifests"`
		Config    *v1.Descriptor  `json:"config"`
		Layers    []v1.Descriptor `json:"layers"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return "manifest " + d.Digest.String() + ": " + err.Error()
	}
	for _, c := range m.Manifests {
		if detail := s.closureProblem(c, bad, depth+1); detail != "" {
			return detail
		}
	}
	if m.Config != nil {
		if _, detail := s.fsckBlob(m.Config.Digest, "config", bad); detail != "" {
			return detail
		}
	}
	for _, l := range m.Layers {
		if detail := s.presentBlob(l.Digest, "layer", bad); detail != "" {
			return detail
		}
	}
	return ""
}

// fsckBlob reads a small blob of the closure.
func (s *Store) fsckBlob(h v1.Hash, what string, bad map[v1.Hash]bool) ([]byte, string) {
	if detail := s.presentBlob(h, what, bad); detail != "" {
		return nil, detail
	}
	raw, err := os.ReadFile(s.BlobPath(h))
	if err != nil {
		return nil, what + " " + h.String() + ": " + err.Error()
	}
	return raw, ""
}

func (s *Store) presentBlob(h v1.Hash, what string, bad map[v1.Hash]bool) string {
	if h.Algorithm != "sha256" || !isHex64(h.Hex) {
		return what + " " + h.String() + ": invalid digest"
	}
	if bad[h] {
		return what + " " + h.String() + " is damaged"
	}
	if !s.hasBlob(h) {
		return what + " " + h.String() + " is missing"
	}
	return ""
}

// fsckLayers finds what in the extracted layers directory is neither a
// layer nor work in progress of a live process.
func (s *Store) fsckLayers(ctx context.Context, rep *FsckReport, repair bool) error {
	ents, err := readDir(s.LayersDir())
	if err != nil {
		return fmt.Errorf("check layers: %w", err)
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("check layers: %w", err)
		}
		name := e.Name()
		var detail string
		switch rest, tmp := strings.CutPrefix(name, ".tmp-"); {
		case isHex64(name) && e.IsDir():
			rep.Layers++
			continue
		case isHex64(name):
			detail = "an extracted layer that is not a directory"
		case tmp && !procowner.Gone(rest):
			continue // an extraction still running
		case tmp:
			detail = "extraction left by a process that is gone"
		default:
			detail = "not an extracted layer"
		}
		p := Problem{Kind: "layer", Name: name, Detail: detail}
		if repair {
			if err := os.RemoveAll(filepath.Join(s.LayersDir(), name)); err != nil {
				return fmt.Errorf("drop %s: %w", name, err)
			}
			p.Repaired = true
		}
		rep.Problems = append(rep.Problems, p)
	}
	return nil
}
