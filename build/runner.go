package build

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/builderdev/builder/executor"
	"github.com/builderdev/builder/parser"
	"github.com/builderdev/builder/snapshot"
	"github.com/builderdev/builder/store"
)

// runner is how RUN steps run: an isolation level and the snapshotter
// that goes with it.
type runner struct {
	level executor.Isolation
	kind  string // "overlay" or "copy"
	exec  executor.Executor
	snap  snapshot.Snapshotter
	work  string // the snapshotter's work dir, removed by release
}

// newRunner picks the isolation level (detected for "" and "auto") and
// the snapshotter for it. Its release removes the snapshotter's work dir;
// it is safe to call on error.
func newRunner(ctx context.Context, st *store.Store, level executor.Isolation) (*runner, error) {
	r := &runner{}
	auto := level == "auto" || level == ""
	// What the probes found before in this very environment, if the store
	// remembers it: a build then probes nothing.
	var memo detected
	var fingerprint string
	remembered := false
	if auto {
		fingerprint = environment(st.TmpDir())
		memo, remembered = rememberedDetection(st.Root(), fingerprint)
		if !remembered {
			l, err := executor.Detect()
			if err != nil {
				return r, fmt.Errorf("no isolation level works here: %w", err)
			}
			level = l
		} else {
			level = memo.Level
		}
	}
	ex, err := executor.New(level, executor.WithTmpDir(st.TmpDir()))
	if err != nil {
		return r, err
	}
	// Snapshots live in a store temp dir of this process: removed after the
	// build, and by the next store.Open if this process is killed.
	work, err := st.MkdirTemp(ctx, "snapshots-")
	if err != nil {
		return r, err
	}
	r.work = work
	// The chroot level mounts nothing, so its root is a plain directory
	// (a copy snapshot) even where this process could mount an overlay.
	kind := "copy"
	var snap snapshot.Snapshotter
	switch {
	case level == executor.Chroot:
		snap, err = snapshot.NewCopy(work)
	case remembered:
		kind = memo.Snapshotter
		snap, err = snapshotterOf(kind, work)
	default:
		snap, kind, err = snapshot.Detect(ctx, work)
	}
	if err != nil {
		return r, err
	}
	if auto && !remembered {
		rememberDetection(st.Root(), detected{Fingerprint: fingerprint, Level: level, Snapshotter: kind})
	}
	r.level, r.kind, r.exec, r.snap = level, kind, ex, snap
	return r, nil
}

// release removes the snapshotter's work dir.
func (r *runner) release() {
	if r.work != "" {
		os.RemoveAll(r.work)
	}
}

// usesRun reports whether any stage has a RUN step (or may get one from
// ONBUILD triggers, which only base images carry).
func usesRun(df *parser.Dockerfile) bool {
	for _, st := range df.Stages {
		for _, in := range st.Instructions {
			if _, ok := in.(*parser.Run); ok {
				return true
			}
		}
	}
	return false
}

// describe is what the build says at its start: the level, the
// snapshotter and what the level lacks compared to namespace.
func (r *runner) describe() string {
	d := fmt.Sprintf("isolation: %s, snapshotter: %s", r.level, r.kind)
	if note := executor.UserNamespaceNote(); r.level == executor.Rootless && note != "" {
		d += " (" + note + ")"
	}
	if lacks := executor.Lacks(r.level); len(lacks) > 0 {
		d += "; lacks: " + strings.Join(lacks, "; ")
	}
	return d
}
