package solver

import (
	"context"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/builderdev/builder/internal/platform"
	"github.com/builderdev/builder/parser"
)

// buildPlatforms runs one build per platform of req.Platforms in one
// solve: the builds run in parallel within the same job slots, share the
// context and the stat cache, and a stage pinned to one platform (FROM
// --platform=$BUILDPLATFORM) that reads no TARGET* argument runs once,
// in the first build, for all of them.
func (s *Solver) buildPlatforms(ctx context.Context, req *Request) (*Result, error) {
	start := s.now()
	lease, err := s.store.Lease(ctx)
	if err != nil {
		return nil, fmt.Errorf("take store lease: %w", err)
	}
	defer lease.Release()
	var builds []*build
	for i, p := range req.Platforms {
		r := *req
		r.Platform, r.Platforms = &p, nil
		b, err := s.newBuild(&r)
		if err != nil {
			return nil, err
		}
		b.lease = lease
		b.multi = true
		if i > 0 {
			// One set of job slots, one context (and its hashing).
			b.sem, b.quiet = builds[0].sem, true
			fsys := builds[0].contextFS()
			b.ctxOnce.Do(func() { b.ctxFS = fsys })
		}
		b.external = map[int]bool{}
		builds = append(builds, b)
	}
	for _, b := range builds {
		if err := b.prepare(); err != nil {
			return nil, err
		}
	}
	shareStages(builds)
	for _, b := range builds {
		if err := b.checkPlatforms(); err != nil {
			return nil, err
		}
	}
	results := make([]*state, len(builds))
	g, gctx := errgroup.WithContext(ctx)
	for i, b := range builds {
		g.Go(func() error {
			st, err := b.runStages(gctx)
			results[i] = st
			return err
		})
	}
	err = g.Wait()
	if s.stats != nil {
		s.stats.Save()
	}
	if err != nil {
		return nil, err
	}
	res := &Result{}
	seen := map[v1.Hash]bool{}
	for i, b := range builds {
		img, err := b.finalImage(results[i])
		if err != nil {
			return nil, err
		}
		pr := &Result{Platform: b.platform, Image: img, Config: results[i].cfg, Keys: results[i].steps, AllKeys: b.stepKeys,
			Steps: int(b.ran.Load()), Cached: int(b.hit.Load())}
		res.Platforms = append(res.Platforms, pr)
		res.Steps += pr.Steps
		res.Cached += pr.Cached
		for _, k := range pr.Keys {
			if !seen[k] {
				seen[k] = true
				res.Keys = append(res.Keys, k)
			}
		}
	}
	all := map[v1.Hash]bool{}
	for _, pr := range res.Platforms {
		for _, k := range pr.AllKeys {
			if !all[k] {
				all[k] = true
				res.AllKeys = append(res.AllKeys, k)
			}
		}
	}
	res.Elapsed = s.now().Sub(start)
	return res, nil
}

// shareStages makes the later builds use the first build's run of every
// stage that gives the same result for all platforms: pinned with FROM
// --platform to the same platform and base, declaring no TARGET*
// argument, and reading only such stages.
func shareStages(builds []*build) {
	first := builds[0]
	shareable := make([]bool, len(first.stages))
	for i, sr := range first.stages {
		ok := sr.needed && sr.stage.From.Platform != "" && !readsTargetArgs(sr.stage)
		for d := range sr.deps {
			ok = ok && shareable[d]
		}
		shareable[i] = ok
	}
	for _, b := range builds[1:] {
		for i, sr := range b.stages {
			if !shareable[i] || !sr.needed {
				continue
			}
			fsr := first.stages[i]
			if sr.base != fsr.base || !platform.Same(sr.platform, fsr.platform) {
				continue
			}
			b.stages[i] = fsr
			b.external[i] = true
		}
	}
	for i, sr := range first.stages {
		if shareable[i] {
			// Shown once, as the platform it runs for.
			sr.prefix = platform.String(sr.platform) + " " + sr.label
		}
	}
}

// readsTargetArgs reports whether a stage declares one of the target
// platform's automatic args (the only way its steps can see them).
func readsTargetArgs(st *parser.Stage) bool {
	for _, in := range st.Instructions {
		a, ok := in.(*parser.Arg)
		if !ok {
			continue
		}
		for _, d := range a.Args {
			if strings.HasPrefix(d.Key, "TARGET") && d.Key != "TARGETSTAGE" {
				return true
			}
		}
	}
	return false
}
