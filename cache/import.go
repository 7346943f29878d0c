package cache

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/builderdev/builder/internal/ctxio"
)

// Import writes the records of the cache artifact img into c and fetches
// every layer blob they reference into the store first (eagerly: a record
// is written only once its blob is local, so Get needs no registry and a
// record never points at a missing blob). Blobs already in the store are
// not fetched again. A blob's diffID is verified by decompressing it,
// unless the blob was here already and a local record gives that diffID. Local records of the same keys whose blob is present are kept.
// While it runs, a store lease keeps Prune off the blobs.
func Import(ctx context.Context, c *Cache, img v1.Image) error {
	m, err := img.Manifest()
	if err != nil {
		return fmt.Errorf("import cache: %w", err)
	}
	if m.Config.MediaType != ConfigMediaType {
		return fmt.Errorf("import cache: %w (config media type %q)", ErrNotCache, m.Config.MediaType)
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("import cache: %w", err)
	}
	var cfg artifactConfig
	if err := json.Unmarshal(raw, &cfg); err != nil {
		return fmt.Errorf("import cache: decode records: %w", err)
	}
	if cfg.Version != recordVersion {
		return fmt.Errorf("import cache: records of version %d, want %d", cfg.Version, recordVersion)
	}
	inManifest := map[v1.Hash]v1.Descriptor{}
	for _, d := range m.Layers {
		inManifest[d.Digest] = d
	}
	var recs []*Record
	blobs := map[v1.Hash]*LayerRef{}
	for k, rec := range cfg.Records {
		if rec == nil || rec.Key.String() != k || rec.Version != recordVersion {
			return fmt.Errorf("import cache: record %s does not match its key", k)
		}
		if l := rec.Layer; l != nil {
			d, ok := inManifest[l.Digest]
			if !ok || d.Size != l.Size {
				return fmt.Errorf("import cache: record %s: layer %s is not in the artifact", k, l.Digest)
			}
			if prev, ok := blobs[l.Digest]; ok && prev.DiffID != l.DiffID {
				return fmt.Errorf("import cache: layer %s has two diffIDs", l.Digest)
			}
			l.MediaType = string(d.MediaType)
			blobs[l.Digest] = l
		}
		recs = append(recs, rec)
	}
	lease, err := c.store.Lease(ctx)
	if err != nil {
		return fmt.Errorf("import cache: %w", err)
	}
	defer lease.Release()
	// Blobs already here whose diffID a local record vouches for need no
	// check; the others are decompressed once to verify the claim.
	var local inventory
	if err := c.scanRecordFiles(ctx, &local); err != nil {
		return fmt.Errorf("import cache: %w", err)
	}
	known := map[v1.Hash]v1.Hash{}
	for _, re := range local.records {
		if re.rec != nil && re.rec.Layer != nil {
			known[re.rec.Layer.Digest] = re.rec.Layer.DiffID
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, ref := range blobs {
		trusted := known[ref.Digest] == ref.DiffID
		g.Go(func() error { return c.importBlob(gctx, img, ref, trusted, lease.Add) })
	}
	if err := g.Wait(); err != nil {
		return fmt.Errorf("import cache: %w", err)
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].Key.String() < recs[j].Key.String() })
	for _, rec := range recs {
		if _, err := c.Get(ctx, rec.Key); err == nil {
			continue // a usable local record wins
		}
		if err := c.Put(ctx, rec); err != nil {
			return fmt.Errorf("import cache: %w", err)
		}
	}
	return nil
}

// importBlob leases and fetches one layer blob unless present, and
// verifies its diffID unless trusted and present.
func (c *Cache) importBlob(ctx context.Context, img v1.Image, ref *LayerRef, trusted bool, lease func(context.Context, ...v1.Hash) error) error {
	if err := lease(ctx, ref.Digest, ref.DiffID); err != nil {
		return err
	}
	mt := types.MediaType(ref.MediaType)
	if c.store.HasBlob(ctx, ref.Digest) {
		if trusted {
			return nil
		}
	} else {
		l, err := img.LayerByDigest(ref.Digest)
		if err != nil {
			return fmt.Errorf("fetch layer %s: %w", ref.Digest, err)
		}
		if _, err := c.store.ImportLayer(ctx, knownDiffID{Layer: l, diffID: ref.DiffID, mediaType: mt}); err != nil {
			return err
		}
	}
	sl, err := c.store.Layer(ctx, ref.Digest, ref.DiffID, ref.Size, mt)
	if err != nil {
		return err
	}
	rc, err := sl.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	h, _, err := v1.SHA256(ctxio.Reader(ctx, rc))
	if err != nil {
		return fmt.Errorf("verify layer %s: %w", ref.Digest, err)
	}
	if h != ref.DiffID {
		// The blob is fine by its digest; only the record lies. Leave the
		// blob to pruning and refuse the cache.
		return fmt.Errorf("verify layer %s: content has diffID %s, record says %s", ref.Digest, h, ref.DiffID)
	}
	return nil
}

// knownDiffID is a fetched layer whose diffID comes from the record (the
// artifact's config is not an image config, so ggcr cannot derive it).
type knownDiffID struct {
	v1.Layer
	diffID    v1.Hash
	mediaType types.MediaType
}

func (l knownDiffID) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l knownDiffID) MediaType() (types.MediaType, error) { return l.mediaType, nil }
