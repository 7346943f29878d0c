package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/internal/platform"
)

// RefNameAnnotation is the index.json annotation that carries the tag.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

type index = v1.IndexManifest

// ImageInfo describes one tagged image of the store.
type ImageInfo struct {
	Name    string
	Digest  v1.Hash // manifest digest
	Size    int64   // config plus compressed layers (of every platform)
	Created time.Time
	// Platforms are those of a multi-platform index, in its order; nil
	// for an image.
	Platforms []string
}

// NormalizeName turns a user's image name into the form stored in the
// ref.name annotation: Docker's familiar form ("docker.io/library/" dropped)
// with ":latest" added when there is neither a tag nor a digest.
func NormalizeName(name string) (string, error) {
	n := strings.TrimSpace(name)
	if n == "" {
		return "", errors.New("normalize name: empty name")
	}
	for _, p := range []string{"docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"} {
		if strings.HasPrefix(n, p) && len(n) > len(p) {
			n = n[len(p):]
			break
		}
	}
	if strings.ContainsAny(n, " \t\n\"\\") {
		return "", fmt.Errorf("normalize name %q: invalid character", name)
	}
	last := n[strings.LastIndex(n, "/")+1:]
	if !strings.Contains(last, ":") && !strings.Contains(n, "@") {
		n += ":latest"
	}
	return n, nil
}

// readIndex reads root/oci/index.json. Writers replace it by rename, so a
// reader always sees a complete version without taking the lock.
func (s *Store) readIndex() (*index, error) {
	b, err := os.ReadFile(s.indexPath())
	if err != nil {
		return nil, fmt.Errorf("read index: %w", err)
	}
	var idx index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("parse index: %w", err)
	}
	return &idx, nil
}

// writeIndex replaces index.json atomically. Callers hold the index lock.
func (s *Store) writeIndex(idx *index) error {
	if idx.Manifests == nil {
		idx.Manifests = []v1.Descriptor{}
	}
	b, err := json.Marshal(idx)
	if err != nil {
		return fmt.Errorf("encode index: %w", err)
	}
	return s.writeFileAtomic(s.indexPath(), b)
}

// updateIndex runs fn on index.json under the exclusive index lock and
// writes the result back.
func (s *Store) updateIndex(ctx context.Context, fn func(*index) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("update index: %w", err)
	}
	unlock, err := s.Lock(ctx, "index")
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	if err := fn(idx); err != nil {
		return err
	}
	return s.writeIndex(idx)
}

// Tag stores img (config, layers and manifest blobs; blobs already present
// are skipped) and points the tag name at it in index.json, replacing any
// previous image of that name. Blobs are complete before index.json is
// updated, so the index never references a missing blob.
func (s *Store) Tag(ctx context.Context, name string, img v1.Image) error {
	return s.tag(ctx, name, img, nil)
}

// tag is Tag; beforeIndex, when set, runs between writing the blobs and
// updating index.json (tests race a prune there).
func (s *Store) tag(ctx context.Context, name string, img v1.Image, beforeIndex func()) error {
	ref, err := NormalizeName(name)
	if err != nil {
		return fmt.Errorf("tag image: %w", err)
	}
	// A rebuild that changed nothing tags the same manifest again: a tag
	// names only complete images, so there is nothing to write, lease or
	// lock (index.json is replaced atomically, so a read without the lock
	// sees a whole index).
	if d, err := img.Digest(); err == nil {
		if idx, err := s.readIndex(); err == nil && tagged(idx, ref, d) {
			return nil
		}
	}
	// Until index.json names them, the image's blobs are only this call's:
	// a lease keeps a concurrent prune from removing one that is written
	// (or found) here but not tagged yet.
	lease, err := s.Lease(ctx)
	if err != nil {
		return fmt.Errorf("tag image %s: %w", ref, err)
	}
	defer lease.Release()
	if err := lease.Add(ctx, imageBlobs(img)...); err != nil {
		return fmt.Errorf("tag image %s: %w", ref, err)
	}
	desc, err := s.WriteImage(ctx, img)
	if err != nil {
		return fmt.Errorf("tag image %s: %w", ref, err)
	}
	if beforeIndex != nil {
		beforeIndex()
	}
	desc.Annotations = map[string]string{RefNameAnnotation: ref}
	err = s.updateIndex(ctx, func(idx *index) error {
		kept := idx.Manifests[:0]
		for _, d := range idx.Manifests {
			if d.Annotations[RefNameAnnotation] != ref {
				kept = append(kept, d)
			}
		}
		idx.Manifests = append(kept, *desc)
		return nil
	})
	if err != nil {
		return fmt.Errorf("tag image %s: %w", ref, err)
	}
	return nil
}

// imageBlobs lists the digests of img's manifest, config and layers (those
// it can tell).
func imageBlobs(img v1.Image) []v1.Hash {
	var out []v1.Hash
	if h, err := img.Digest(); err == nil {
		out = append(out, h)
	}
	if h, err := img.ConfigName(); err == nil {
		out = append(out, h)
	}
	if m, err := img.Manifest(); err == nil {
		for _, l := range m.Layers {
			out = append(out, l.Digest)
		}
	}
	return out
}

// tagged reports whether ref names exactly one entry of idx and that entry
// is the manifest digest.
func tagged(idx *index, ref string, digest v1.Hash) bool {
	n, same := 0, false
	for _, d := range idx.Manifests {
		if d.Annotations[RefNameAnnotation] == ref {
			n++
			same = d.Digest == digest
		}
	}
	return n == 1 && same
}

// WriteImage stores every blob of img without tagging it and returns the
// descriptor of its manifest (with the platform from its config).
func (s *Store) WriteImage(ctx context.Context, img v1.Image) (*v1.Descriptor, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("write image: %w", err)
	}
	for _, l := range layers {
		mt, err := l.MediaType()
		if err != nil {
			return nil, fmt.Errorf("write image: %w", err)
		}
		if !mt.IsDistributable() {
			continue // foreign layers stay where they are
		}
		if err := s.writeLayerBlob(ctx, l); err != nil {
			return nil, fmt.Errorf("write image: %w", err)
		}
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("write image: %w", err)
	}
	if _, _, err := s.writeSmallBlob(ctx, cfg); err != nil {
		return nil, fmt.Errorf("write image: %w", err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("write image: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, fmt.Errorf("write image: %w", err)
	}
	digest, size, err := s.writeSmallBlob(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("write image: %w", err)
	}
	desc := &v1.Descriptor{MediaType: mt, Size: size, Digest: digest}
	if cf, err := img.ConfigFile(); err == nil && cf.OS != "" && cf.Architecture != "" {
		desc.Platform = &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant, OSVersion: cf.OSVersion}
	}
	return desc, nil
}

// writeSmallBlob stores b (a config or manifest) unless a blob with its
// digest is already there, in which case it only marks that blob used.
func (s *Store) writeSmallBlob(ctx context.Context, b []byte) (v1.Hash, int64, error) {
	sum := sha256.Sum256(b)
	h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	ok, err := s.ReuseBlob(ctx, h)
	if err != nil {
		return v1.Hash{}, 0, err
	}
	if ok {
		return h, int64(len(b)), nil
	}
	return s.writeBlob(ctx, bytes.NewReader(b), &h)
}

// writeLayerBlob stores the compressed blob of l unless present. Layers
// whose digest is not known before reading (streaming layers) are hashed
// on the way in.
func (s *Store) writeLayerBlob(ctx context.Context, l v1.Layer) error {
	digest, err := l.Digest()
	var want *v1.Hash
	if err == nil {
		if ok, err := s.ReuseBlob(ctx, digest); err != nil || ok {
			return err
		}
		want = &digest
	}
	rc, err := l.Compressed()
	if err != nil {
		return fmt.Errorf("read layer: %w", err)
	}
	_, _, err = s.writeBlob(ctx, rc, want)
	if cerr := rc.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store layer: %w", err)
	}
	return nil
}

// lookup finds the manifest descriptor for a tag or a manifest digest.
func (s *Store) lookup(ctx context.Context, name string) (v1.Descriptor, error) {
	if err := ctx.Err(); err != nil {
		return v1.Descriptor{}, fmt.Errorf("find image %s: %w", name, err)
	}
	idx, err := s.readIndex()
	if err != nil {
		return v1.Descriptor{}, err
	}
	if h, err := v1.NewHash(strings.TrimPrefix(name, "@")); err == nil {
		for _, d := range idx.Manifests {
			if d.Digest == h {
				return d, nil
			}
		}
		if s.hasBlob(h) {
			return v1.Descriptor{Digest: h}, nil
		}
		return v1.Descriptor{}, fmt.Errorf("find image %s: %w", name, ErrNotFound)
	}
	ref, err := NormalizeName(name)
	if err != nil {
		return v1.Descriptor{}, err
	}
	for i := len(idx.Manifests) - 1; i >= 0; i-- {
		d := idx.Manifests[i]
		if n := d.Annotations[RefNameAnnotation]; n == ref || n == name {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("find image %s: %w", name, ErrNotFound)
}

// Image returns the image tagged name, or the image whose manifest digest is
// name ("sha256:…"), backed by the store's blobs. A tag of a multi-platform
// index gives this machine's platform's image (see ImagePlatform).
func (s *Store) Image(ctx context.Context, name string) (v1.Image, error) {
	return s.ImagePlatform(ctx, name, platform.Host())
}

// Images lists the tagged images in index order.
func (s *Store) Images(ctx context.Context) ([]ImageInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	var out []ImageInfo
	for _, d := range idx.Manifests {
		n, ok := d.Annotations[RefNameAnnotation]
		if !ok {
			continue
		}
		info := ImageInfo{Name: n, Digest: d.Digest}
		if d.MediaType.IsIndex() {
			if err := s.indexInfo(ctx, d.Digest, &info); err != nil {
				return nil, fmt.Errorf("list images: %s: %w", n, err)
			}
			out = append(out, info)
			continue
		}
		img, err := s.imageByDigest(ctx, d.Digest)
		if err != nil {
			return nil, fmt.Errorf("list images: %s: %w", n, err)
		}
		m, err := img.Manifest()
		if err != nil {
			return nil, fmt.Errorf("list images: %s: %w", n, err)
		}
		info.Size = m.Config.Size
		for _, l := range m.Layers {
			info.Size += l.Size
		}
		if cf, err := img.ConfigFile(); err == nil {
			info.Created = cf.Created.Time
		}
		out = append(out, info)
	}
	return out, nil
}

// Remove drops the tag name (or every tag of a manifest digest) from
// index.json. Blobs are left for pruning.
func (s *Store) Remove(ctx context.Context, name string) error {
	var match func(v1.Descriptor) bool
	if h, err := v1.NewHash(name); err == nil {
		match = func(d v1.Descriptor) bool { return d.Digest == h }
	} else {
		ref, err := NormalizeName(name)
		if err != nil {
			return fmt.Errorf("remove image: %w", err)
		}
		match = func(d v1.Descriptor) bool {
			n := d.Annotations[RefNameAnnotation]
			return n == ref || n == name
		}
	}
	found := false
	err := s.updateIndex(ctx, func(idx *index) error {
		kept := idx.Manifests[:0]
		for _, d := range idx.Manifests {
			if match(d) {
				found = true
				continue
			}
			kept = append(kept, d)
		}
		idx.Manifests = kept
		if !found {
			return fmt.Errorf("remove image %s: %w", name, ErrNotFound)
		}
		return nil
	})
	return err
}
