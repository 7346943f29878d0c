package solver

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/internal/layer"
	"github.com/builderdev/builder/internal/user"
	"github.com/builderdev/builder/parser"
	"github.com/builderdev/builder/snapshot"
)

// workdir is WORKDIR: the config changes, and the directory is created (in
// a layer, owned by the current USER) when it does not exist yet.
func (b *build) workdir(ctx context.Context, sr *stageRun, st *state, w *parser.Workdir) (*state, error) {
	wd := normalizeWorkdir(st.cfg.Config.WorkingDir, w.Path)
	next := st.clone()
	next.cfg.Config.WorkingDir = wd
	dirs, err := b.lowerDirs(ctx, st)
	if err != nil {
		return nil, err
	}
	view := snapshot.NewView(dirs)
	createdBy := "WORKDIR " + wd
	// The directory is made where the path leads inside the image: through
	// its symlinks (Debian's /var/run -> /run), never replacing them.
	real, err := view.Resolve(strings.TrimPrefix(path.Clean(wd), "/"))
	if err != nil {
		return nil, fmt.Errorf("WORKDIR %s: %w", wd, err)
	}
	// The layer holds the existing parents as they are, so that stacking it
	// over the lower layers keeps their owner and mode.
	var missing []string
	var parents []tar.Header
	for p := path.Clean(real); p != "." && p != "/"; p = path.Dir(p) {
		fi, err := view.Lstat(p)
		switch {
		case err == nil && !fi.IsDir():
			return nil, fmt.Errorf("WORKDIR %s: /%s is not a directory", wd, p)
		case err == nil:
			hdr, _ := layer.TarHeader(fi)
			hdr.Name = p + "/"
			parents = append([]tar.Header{hdr}, parents...)
		case errors.Is(err, fs.ErrNotExist) && len(parents) == 0:
			missing = append([]string{p}, missing...)
		default:
			return nil, fmt.Errorf("WORKDIR %s: %w", wd, err)
		}
	}
	if len(missing) == 0 {
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
				tw := tar.NewWriter(w)
				mtime := layer.ModTime(b.created)
				for i, hdr := range parents {
					if i == len(parents)-1 { // it gets a new entry
						hdr.ModTime = mtime
					}
					if err := tw.WriteHeader(&hdr); err != nil {
						return fmt.Errorf("write layer: %w", err)
					}
				}
				for _, p := range missing {
					hdr := &tar.Header{Typeflag: tar.TypeDir, Name: p + "/", Mode: 0o755,
						Uid: int(id.UID), Gid: int(id.GID), ModTime: mtime, Format: tar.FormatPAX}
					if err := tw.WriteHeader(hdr); err != nil {
						return fmt.Errorf("write layer: %w", err)
					}
				}
				return tw.Close()
			})
		},
	})
}
