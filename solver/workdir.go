package solver

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/internal/filecopy"
	"github.com/builderdev/builder/internal/user"
	"github.com/builderdev/builder/parser"
)

// workdir is WORKDIR: the config changes, and the directory is created (in
// a layer, owned by the current USER) when it does not exist yet.
func (b *build) workdir(ctx context.Context, sr *stageRun, st *state, w *parser.Workdir) (*state, error) {
	wd := normalizeWorkdir(st.cfg.Config.WorkingDir, w.Path)
	next := st.clone()
	next.cfg.Config.WorkingDir = wd
	view, _, err := b.destView(ctx, st, sr.ahead)
	if err != nil {
		return nil, err
	}
	createdBy := "WORKDIR " + wd
	// The directory is made where the path leads inside the image: through
	// its symlinks (Debian's /var/run -> /run), never replacing them.
	real, err := view.Resolve(strings.TrimPrefix(path.Clean(wd), "/"))
	if err != nil {
		return nil, fmt.Errorf("WORKDIR %s: %w", wd, err)
	}
	// The layer holds the existing parents as they are, so that stacking it
	// over the lower layers keeps their owner and mode.
	plan, err := filecopy.PlanMkdir(view, real)
	if err != nil {
		return nil, fmt.Errorf("WORKDIR %s: %w", wd, err)
	}
	if len(plan.Missing) == 0 {
		// Nothing to make: the step is shown as CACHED, so that the steps
		// shown are the ones counted in "[i/total]" and in the summary.
		v := b.newVertex(sr, "WORKDIR "+w.Path)
		b.hit.Add(1)
		b.doneVertex(v, true)
		next.cfg.History = append(next.cfg.History, b.history(st, createdBy, true))
		next.key = keyOf(keyInput{Version: keyVersion, Parent: st.key.String(), Kind: "workdir", Args: wd})
		return next, nil
	}
	id, err := user.Resolve(view, userOrRoot(st.cfg.Config.User))
	if err != nil {
		return nil, fmt.Errorf("WORKDIR %s: %w", wd, err)
	}
	return b.layerStep(ctx, step{
		sr: sr, st: next, text: "WORKDIR " + w.Path, createdBy: createdBy,
		key: keyInput{Kind: "workdir", Args: map[string]any{"path": wd, "real": real, "uid": id.UID, "gid": id.GID}},
		exec: func(ctx context.Context, v *vertex) (v1.Layer, error) {
			return b.writeLayer(ctx, func(w io.Writer) error {
				return plan.WriteLayer(w, int(id.UID), int(id.GID), b.created)
			})
		},
	})
}
