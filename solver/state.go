package solver

import (
	"context"
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/builderdev/builder/parser"
)

// state is a stage's image after some instructions. States are values:
// every instruction makes a new one.
type state struct {
	cfg     *v1.ConfigFile
	layers  []v1.Layer
	key     v1.Hash  // cache key of the last vertex
	cmdSet  bool     // CMD given in this stage (ENTRYPOINT keeps it)
	onbuild []string // base image triggers still to run
	// buildArgs are the ARGs declared in this stage (and in the stage it is
	// built on), in order, with their effective values: what BuildKit lists
	// in a RUN's history ("RUN |2 A=1 B=2 ...").
	buildArgs []parser.ArgDef
	// platform is the stage's (FROM --platform, else the build's).
	platform v1.Platform
	// time is when the newest layer of this state was made (from the cache
	// record when it was a hit): the created time of later metadata-only
	// history entries, so a fully cached rebuild gives the same image.
	time time.Time
	// baseHistory is how many history entries came with the base image.
	baseHistory int

	dirs []string // extracted layer dirs, filled lazily

	// steps are the cache keys of the layer steps this state is made of
	// (a cache export with mode=min carries these).
	steps []v1.Hash
}

func (s *state) clone() *state {
	n := *s
	n.cfg = s.cfg.DeepCopy()
	n.layers = append([]v1.Layer(nil), s.layers...)
	n.dirs = append([]string(nil), s.dirs...)
	n.steps = append([]v1.Hash(nil), s.steps...)
	n.buildArgs = append([]parser.ArgDef(nil), s.buildArgs...)
	return &n
}

// withLayer returns the state with one more layer and its history entry.
func (s *state) withLayer(l v1.Layer, h v1.History) (*state, error) {
	n := s.clone()
	diffID, err := l.DiffID()
	if err != nil {
		return nil, fmt.Errorf("layer diffID: %w", err)
	}
	n.layers = append(n.layers, l)
	n.cfg.RootFS.DiffIDs = append(n.cfg.RootFS.DiffIDs, diffID)
	n.cfg.History = append(n.cfg.History, h)
	if len(n.dirs) != len(s.layers) {
		n.dirs = nil
	}
	return n, nil
}

// lowerDirs extracts (once, shared by all builds) every layer of st and
// returns their directories, bottom first.
func (b *build) lowerDirs(ctx context.Context, st *state) ([]string, error) {
	if len(st.dirs) == len(st.layers) {
		return st.dirs, nil
	}
	dirs := make([]string, len(st.layers))
	// Layers extract in parallel (each takes a CPU slot); one extraction
	// per layer is shared by every stage and build that needs it.
	err := b.eachLayer(ctx, st, func(ctx context.Context, i int, l v1.Layer, diffID v1.Hash) error {
		dir, err := b.s.layers.Ensure(ctx, diffID, l.Uncompressed)
		if err != nil {
			return fmt.Errorf("extract layer %s: %w", diffID, err)
		}
		dirs[i] = dir
		return nil
	})
	if err != nil {
		return nil, err
	}
	st.dirs = dirs
	return dirs, nil
}

// eachLayer calls fn for every layer of st at once, each leased for the
// build, with its index in st and its diffID.
func (b *build) eachLayer(ctx context.Context, st *state, fn func(ctx context.Context, i int, l v1.Layer, diffID v1.Hash) error) error {
	g, gctx := errgroup.WithContext(ctx)
	for i, l := range st.layers {
		g.Go(func() error {
			diffID, err := b.leaseLayer(gctx, l)
			if err != nil {
				return err
			}
			return fn(gctx, i, l, diffID)
		})
	}
	return g.Wait()
}

// history is the history entry of an instruction, as BuildKit writes it,
// dated like the newest layer of st (or now / SOURCE_DATE_EPOCH).
func (b *build) history(st *state, createdBy string, empty bool) v1.History {
	return v1.History{
		Created:    v1.Time{Time: b.stamp(st.time)},
		CreatedBy:  createdBy,
		Comment:    historyComment,
		EmptyLayer: empty,
	}
}

// stamp is the time to record for something made at t: SOURCE_DATE_EPOCH
// when set, else t, else the build's start.
func (b *build) stamp(t time.Time) time.Time {
	if b.req.SourceDateEpoch != nil || t.IsZero() {
		return b.created
	}
	return t.UTC()
}

// historyComment marks history entries as BuildKit does.
const historyComment = "buildkit.dockerfile.v0"

// layerMediaType is what OCI manifests call a gzip layer.
const layerMediaType = types.OCILayer
