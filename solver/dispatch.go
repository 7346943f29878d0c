package solver

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/builderdev/builder/cache"
	"github.com/builderdev/builder/parser"
)

// emptyLayerDiffID is the diffID of a tar with no entries: a step that
// changed nothing gets no layer, as with BuildKit.
const emptyLayerDiffID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"

// dispatch expands one instruction with the state's ARGs and ENV and
// applies it.
func (b *build) dispatch(ctx context.Context, sr *stageRun, st *state, inst parser.Instruction) (*state, error) {
	exp, err := sr.scope.Step(inst)
	if err != nil {
		return nil, err
	}
	switch in := exp.(type) {
	case *parser.Arg:
		n := st.clone()
		var parts []string
		for _, d := range in.Args {
			if d.Value != nil {
				parts = append(parts, d.Key+"="+*d.Value)
			} else {
				parts = append(parts, d.Key)
			}
		}
		n.cfg.History = append(n.cfg.History, b.history(st, "ARG "+strings.Join(parts, " "), true))
		n.buildArgs = append(n.buildArgs, in.Args...)
		// The values are not in the key: the steps that see them (RUN's
		// environment, expanded words) have them in theirs.
		names := make([]string, len(in.Args))
		for i, d := range in.Args {
			names[i] = d.Key
		}
		n.key = keyOf(keyInput{Version: keyVersion, Parent: st.key.String(), Kind: "arg", Args: names})
		return n, nil
	case *parser.Run:
		return b.run(ctx, sr, st, in, sr.scope, sr.scope.Env(), sr.scope.RunEnv())
	case *parser.Copy:
		return b.copy(ctx, sr, st, in)
	case *parser.Workdir:
		return b.workdir(ctx, sr, st, in)
	default:
		return b.meta(st, exp)
	}
}

// step is one layer-producing vertex.
type step struct {
	sr        *stageRun
	st        *state
	text      string // shown in progress: "RUN make"
	createdBy string // history
	key       keyInput
	exec      func(ctx context.Context, v *vertex) (v1.Layer, error)
	// explain adds inputs that are in the key only in aggregate (a COPY's
	// files one by one), for --explain.
	explain map[string]string
	// close, when set, releases what the step holds once it was looked
	// up or ran (a COPY's plan).
	close func()
}

// layerStep looks the step up in the cache and otherwise executes it (once
// for all concurrent builds with the same key), records the result and
// returns the new state.
func (b *build) layerStep(ctx context.Context, s step) (*state, error) {
	if s.close != nil {
		defer s.close()
	}
	s.key.Version = keyVersion
	s.key.Parent = s.st.key.String()
	s.key.Platform = s.st.platform.String()
	if b.req.RewriteTimestamp && b.req.SourceDateEpoch != nil {
		in := map[string]string{"rewrite-timestamp": b.req.SourceDateEpoch.UTC().Format(time.RFC3339)}
		for k, v := range s.key.Inputs {
			in[k] = v
		}
		s.key.Inputs = in
	}
	key := keyOf(s.key)
	v := b.newVertex(s.sr, s.text)
	noCache := b.req.NoCache || b.noCacheFilter[strings.ToLower(s.sr.stage.Name)] || b.noCacheFilter[s.sr.label]
	if !noCache {
		rec, err := b.s.cache.Get(ctx, key)
		if err == nil {
			st, err := b.fromRecord(ctx, s.st, rec, key, s.createdBy)
			if err == nil {
				b.hit.Add(1)
				b.reporter().Report(Event{Time: time.Now(), Vertex: v.num, Name: v.name, Status: StatusCached})
				return st, nil
			}
		} else if !errors.Is(err, cache.ErrNotFound) {
			return nil, fmt.Errorf("cache lookup: %w", err)
		}
	}
	reason := ""
	if b.req.Explain {
		reason = b.explain(ctx, s, noCache)
	}
	release, err := b.jobSlot(ctx, v)
	if err != nil {
		b.fail(v, err)
		return nil, err
	}
	defer release()
	started := time.Now()
	b.reporter().Report(Event{Time: started, Vertex: v.num, Name: v.name, Status: StatusStarted, Reason: reason})
	res, err, _ := b.s.steps.Do(key.String(), func() (any, error) {
		l, err := s.exec(ctx, v)
		if err != nil {
			return nil, err
		}
		rec := &cache.Record{Key: key, Parent: s.st.key.String(), Created: time.Now(), Description: s.text, Inputs: s.inputs()}
		rec.History = v1.History{CreatedBy: s.createdBy, Comment: historyComment, Created: v1.Time{Time: rec.Created.UTC()}}
		if l != nil {
			diffID, err := l.DiffID()
			if err != nil {
				return nil, err
			}
			if diffID.String() != emptyLayerDiffID {
				digest, err := l.Digest()
				if err != nil {
					return nil, err
				}
				size, err := l.Size()
				if err != nil {
					return nil, err
				}
				mt, err := l.MediaType()
				if err != nil {
					return nil, err
				}
				rec.Layer = &cache.LayerRef{Digest: digest, DiffID: diffID, Size: size, MediaType: string(mt)}
				rec.History.EmptyLayer = false
				if err := b.lease.Add(ctx, digest, diffID); err != nil {
					return nil, err
				}
			}
		}
		if err := b.s.cache.Put(ctx, rec); err != nil {
			return nil, fmt.Errorf("record cache: %w", err)
		}
		return rec, nil
	})
	if err != nil {
		b.fail(v, err)
		return nil, err
	}
	b.ran.Add(1)
	st, err := b.fromRecord(ctx, s.st, res.(*cache.Record), key, s.createdBy)
	if err != nil {
		return nil, err
	}
	b.reporter().Report(Event{Time: time.Now(), Vertex: v.num, Name: v.name, Status: StatusDone, Duration: time.Since(started)})
	return st, nil
}

// jobSlot takes one of the build's job slots for v, reporting v as waiting
// when none is free; without a bound (no --jobs) it returns at once. The
// slot is held while an identical step of another build is awaited, as
// that is work in progress for this build.
func (b *build) jobSlot(ctx context.Context, v *vertex) (release func(), err error) {
	if b.sem == nil {
		return func() {}, nil
	}
	if !b.sem.TryAcquire(1) {
		b.reporter().Report(Event{Time: time.Now(), Vertex: v.num, Name: v.name, Status: StatusWaiting})
		if err := b.sem.Acquire(ctx, 1); err != nil {
			return nil, err
		}
	}
	return func() { b.sem.Release(1) }, nil
}

// inputs names what the step's key is made of, for --explain.
func (s step) inputs() map[string]string {
	in := map[string]string{}
	for k, v := range s.key.Inputs {
		in[k] = v
	}
	for _, kv := range s.key.Env {
		k, v, _ := strings.Cut(kv, "=")
		in["env:"+k] = keyOf(v).Hex[:16]
	}
	in["args"] = keyOf(s.key.Args).Hex[:16]
	for k, v := range s.explain {
		in[k] = v
	}
	return in
}

// explain says why a step misses the cache.
func (b *build) explain(ctx context.Context, s step, noCache bool) string {
	if noCache {
		return "cache miss: --no-cache"
	}
	prev, err := b.s.cache.Previous(ctx, s.st.key, s.text)
	if err != nil {
		return "cache miss: no earlier build of this step on this parent (the parent or the instruction changed)"
	}
	was, now := prev.Inputs, s.inputs()
	var changed, files []string
	for k, v := range now {
		if was[k] == v {
			continue
		}
		if f, ok := strings.CutPrefix(k, "file:"); ok {
			files = append(files, f)
			continue
		}
		changed = append(changed, describeInput(k, was[k] == ""))
	}
	for k := range was {
		if _, ok := now[k]; !ok {
			if f, ok := strings.CutPrefix(k, "file:"); ok {
				files = append(files, f+" (removed)")
				continue
			}
			changed = append(changed, strings.TrimPrefix(k, "env:")+" removed")
		}
	}
	if len(files) > 0 {
		sort.Strings(files)
		more := ""
		if len(files) > 5 {
			more = fmt.Sprintf(" and %d more", len(files)-5)
			files = files[:5]
		}
		changed = append(changed, "file "+strings.Join(files, ", ")+more)
	}
	if len(changed) == 0 {
		return "cache miss: the earlier result is gone from the store"
	}
	sort.Strings(changed)
	return "cache miss: changed " + strings.Join(changed, ", ")
}

func describeInput(k string, added bool) string {
	switch {
	case k == "files":
		return "source files"
	case k == "source":
		return "--from source"
	case k == "args":
		return "instruction arguments"
	case strings.HasPrefix(k, "env:"):
		if added {
			return "variable " + strings.TrimPrefix(k, "env:") + " (new)"
		}
		return "variable " + strings.TrimPrefix(k, "env:")
	case strings.HasPrefix(k, "mount:"):
		return "bind mount " + strings.TrimPrefix(k, "mount:")
	}
	return k
}

// fromRecord applies a cache record to st. createdBy, when set, replaces
// the recorded history text: it can depend on more than the key does (an
// ARG declared without a value is listed in a RUN's history).
func (b *build) fromRecord(ctx context.Context, st *state, rec *cache.Record, key v1.Hash, createdBy string) (*state, error) {
	h := rec.History
	if createdBy != "" {
		h.CreatedBy = createdBy
	}
	h.Created = v1.Time{Time: b.stamp(rec.Created)}
	var n *state
	if rec.Layer == nil {
		n = st.clone()
		h.EmptyLayer = true
		n.cfg.History = append(n.cfg.History, h)
	} else {
		l, err := b.s.store.Layer(ctx, rec.Layer.Digest, rec.Layer.DiffID, rec.Layer.Size, types.MediaType(rec.Layer.MediaType))
		if err != nil {
			return nil, err
		}
		if err := b.lease.Add(ctx, rec.Layer.Digest, rec.Layer.DiffID); err != nil {
			return nil, err
		}
		if n, err = st.withLayer(l, h); err != nil {
			return nil, err
		}
	}
	n.key = key
	n.time = rec.Created
	n.steps = append(n.steps, key)
	b.keysMu.Lock()
	b.stepKeys = append(b.stepKeys, key)
	b.keysMu.Unlock()
	return n, nil
}

func (b *build) start(v *vertex) {
	b.reporter().Report(Event{Time: time.Now(), Vertex: v.num, Name: v.name, Status: StatusStarted})
}

func (b *build) doneVertex(v *vertex, cached bool) {
	st := StatusDone
	if cached {
		st = StatusCached
	}
	b.reporter().Report(Event{Time: time.Now(), Vertex: v.num, Name: v.name, Status: st})
}

// fail reports v as failed, or as cancelled when it stopped because the
// build was cancelled or a stage it needs failed: only the step that
// failed is shown as an error.
func (b *build) fail(v *vertex, err error) {
	st := StatusError
	var sf *stageFailedError
	if errors.Is(err, context.Canceled) || errors.As(err, &sf) {
		st = StatusCanceled
	}
	b.reporter().Report(Event{Time: time.Now(), Vertex: v.num, Name: v.name, Status: st, Data: err.Error()})
}

// failedStep shows a step that failed before it could start (a COPY
// source that is missing, a bind mount's source): as a step of its own,
// with its error, as BuildKit does. It returns err.
func (b *build) failedStep(sr *stageRun, text string, err error) error {
	v := b.newVertex(sr, text)
	b.start(v)
	b.fail(v, err)
	return err
}
