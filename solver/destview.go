package solver

import (
	"context"
	"fmt"
	"os"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/singleflight"

	"github.com/builderdev/builder/snapshot"
)

// A COPY, ADD or WORKDIR only looks names up in the root it writes to:
// the directories of its destination, what is there, their owners. When
// no RUN of the stage comes after it, a layer of the root that is not
// extracted yet is not extracted for it: the view looks the names up in
// the layer's index, made from the layer's tar headers while the layer was
// written (a COPY with such a step ahead) or read from its tar, and kept
// in the store for the builds after (store.LayerIndex). A stage
// that only copies (a final stage of COPY --from) then creates no file
// but its layers' tars; BuildKit copies into a snapshot of real files.
// Reading a file's content through the view (a --chown name looked up in
// /etc/passwd) extracts the layer it is in.

// layerIndexes are the indexes a build made, by diffID.
type layerIndexes struct {
	indexes sync.Map // v1.Hash → *snapshot.Index
	group   singleflight.Group
}

// destView returns the view of st's root that a COPY, ADD or WORKDIR
// resolves its destination in, and the directories of st's layers (where
// each is or would be extracted). need is what the steps after it need:
// with a RUN ahead the layers are extracted, as the RUN needs them.
func (b *build) destView(ctx context.Context, st *state, need rootNeed) (*snapshot.View, []string, error) {
	if need == needFiles || len(st.dirs) == len(st.layers) {
		dirs, err := b.lowerDirs(ctx, st)
		if err != nil {
			return nil, nil, err
		}
		return snapshot.NewView(dirs), dirs, nil
	}
	lowers := make([]snapshot.Lower, len(st.layers))
	dirs := make([]string, len(st.layers))
	err := b.eachLayer(ctx, st, func(gctx context.Context, i int, l v1.Layer, diffID v1.Hash) error {
		dirs[i] = b.s.layers.Dir(diffID)
		if fi, err := os.Lstat(dirs[i]); err == nil && fi.IsDir() {
			lowers[i] = snapshot.Lower{Dir: dirs[i]}
			return nil
		}
		extract := func() (string, error) { return b.s.layers.Ensure(ctx, diffID, l.Uncompressed) }
		ix, err := b.layerIndex(gctx, diffID, l)
		if err != nil {
			// Not indexable: extracted, which also reports a bad tar.
			dir, err := extract()
			if err != nil {
				return fmt.Errorf("extract layer %s: %w", diffID, err)
			}
			lowers[i] = snapshot.Lower{Dir: dir}
			return nil
		}
		lowers[i] = snapshot.Lower{Index: ix, Extract: extract}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return snapshot.NewLazyView(lowers), dirs, nil
}

// layerIndex returns the index of layer l: the one this build made, else
// the one the store keeps for its blob, else one read from its tar (once,
// holding a CPU slot, and kept in the store).
func (b *build) layerIndex(ctx context.Context, diffID v1.Hash, l v1.Layer) (*snapshot.Index, error) {
	if v, ok := b.indexes.Load(diffID); ok {
		return v.(*snapshot.Index), nil
	}
	v, err, _ := b.group.Do(diffID.Hex, func() (any, error) {
		if v, ok := b.indexes.Load(diffID); ok {
			return v, nil
		}
		digest, derr := l.Digest()
		if derr == nil {
			if data, ok := b.s.store.LayerIndex(digest); ok {
				if ix, err := snapshot.UnmarshalIndex(data); err == nil {
					b.indexes.Store(diffID, ix)
					return ix, nil
				}
			}
		}
		var ix *snapshot.Index
		err := b.s.store.CPU().Do(ctx, func() error {
			rc, err := l.Uncompressed()
			if err != nil {
				return err
			}
			defer rc.Close()
			ix, err = snapshot.ReadIndex(ctx, rc)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("index layer %s: %w", diffID, err)
		}
		b.keepIndex(l, diffID, ix)
		return ix, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*snapshot.Index), nil
}

// keepIndex keeps ix as the index of layer l for this build and, best
// effort, in the store.
func (b *build) keepIndex(l v1.Layer, diffID v1.Hash, ix *snapshot.Index) {
	b.indexes.Store(diffID, ix)
	digest, err := l.Digest()
	if err != nil {
		return
	}
	if data, err := ix.MarshalBinary(); err == nil {
		_ = b.s.store.RecordLayerIndex(digest, data) // a missing index costs a read of the tar
	}
}

// leaseLayer keeps l in the store for the build and returns its diffID.
func (b *build) leaseLayer(ctx context.Context, l v1.Layer) (v1.Hash, error) {
	diffID, err := l.DiffID()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("layer diffID: %w", err)
	}
	if d, err := l.Digest(); err == nil {
		if err := b.lease.Add(ctx, d, diffID); err != nil {
			return v1.Hash{}, err
		}
	}
	return diffID, nil
}
