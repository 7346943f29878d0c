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
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/internal/filecopy"
	"github.com/builderdev/builder/internal/layer"
	"github.com/builderdev/builder/internal/user"
	"github.com/builderdev/builder/parser"
	"github.com/builderdev/builder/parser/shell"
	"github.com/builderdev/builder/snapshot"
)

// contextFS is the build context with .dockerignore applied.
func (b *build) contextFS() filecopy.FS {
	b.ctxOnce.Do(func() { b.ctxFS = filecopy.DirFS(b.contextDir, b.req.Ignore) })
	return b.ctxFS
}

// sourceState is the state a --from names: an earlier stage, a named
// context or an image.
func (b *build) sourceState(ctx context.Context, from string) (*state, error) {
	cur := len(b.df.Stages)
	if j, ok := b.stageIndex(from, cur); ok {
		return b.waitStage(ctx, j)
	}
	if nc, ok := b.namedContext(from); ok && nc.kind == contextDir {
		return &state{dir: nc.target, key: keyOf(map[string]string{"context": from, "dir": nc.target})}, nil
	}
	img, err := b.resolveImage(ctx, from, b.platform)
	if err != nil {
		return nil, err
	}
	return &state{cfg: img.config, layers: img.layers, key: keyOf(map[string]string{"image": img.digest.String()})}, nil
}

// sourceFS is the file system of a --from source, or the build context.
func (b *build) sourceFS(ctx context.Context, from string) (filecopy.FS, string, error) {
	if from == "" {
		return b.contextFS(), "context", nil
	}
	src, err := b.sourceState(ctx, from)
	if err != nil {
		return nil, "", err
	}
	if src.dir != "" {
		return filecopy.DirFS(src.dir, nil), src.key.String(), nil
	}
	dirs, err := b.lowerDirs(ctx, src)
	if err != nil {
		return nil, "", err
	}
	return snapshot.NewView(dirs), src.key.String(), nil
}

// copy is COPY and ADD. A failure before the copy starts (a missing
// source, a bad --chown) is still shown as the step.
func (b *build) copy(ctx context.Context, sr *stageRun, st *state, c *parser.Copy) (*state, error) {
	kind := "COPY"
	if c.Add {
		kind = "ADD"
	}
	text := b.copyTitle(sr, kind, c.Original())
	s, err := b.copyStep(ctx, sr, st, c, kind, text)
	if err != nil {
		return nil, b.failedStep(sr, text, err)
	}
	return b.layerStep(ctx, s)
}

// copyStep prepares a COPY or ADD: its sources' checksums and its key.
func (b *build) copyStep(ctx context.Context, sr *stageRun, st *state, c *parser.Copy, kind, text string) (step, error) {
	src, srcKey, err := b.sourceFS(ctx, c.From)
	if err != nil {
		return step{}, err
	}
	dirs, err := b.lowerDirs(ctx, st)
	if err != nil {
		return step{}, err
	}
	dest := snapshot.NewView(dirs)
	var chown *user.Identity
	if c.Chown != "" {
		id, err := user.ResolveChown(dest, c.Chown)
		if err != nil {
			return step{}, fmt.Errorf("--chown=%s: %w", c.Chown, err)
		}
		chown = &id
	}
	// BuildKit keeps the owners of files from a stage or an image; the
	// build context and local directory contexts give 0:0.
	keepOwner := false
	if c.From != "" {
		_, isStage := b.stageIndex(c.From, sr.stage.Index)
		nc, isContext := b.namedContext(c.From)
		keepOwner = isStage || !isContext || nc.kind != contextDir
	}
	heredocs, err := b.heredocFiles(sr, c.Heredocs)
	if err != nil {
		return step{}, err
	}
	req := filecopy.Request{
		Src: src, SrcName: srcName(c.From), Dest: dest,
		Sources: c.Sources, Heredocs: heredocs,
		DestPath: c.Dest, Workdir: workdirOrRoot(st.cfg.Config.WorkingDir),
		Chown: chown, KeepOwner: keepOwner, Chmod: c.Chmod,
		IsAdd: c.Add, Unpack: c.Unpack, Checksum: c.Checksum,
		Excludes: c.Excludes, Parents: c.Parents,
		Client: b.s.http, TmpDir: b.s.store.TmpDir(), ModTime: b.created,
		StatCache: b.s.stats, CPU: b.s.store.CPU(),
	}
	if c.Link {
		req.Dest = nil // --link: the layer does not depend on what is below it
	}
	runAhead := sr.runAhead
	hashStart := time.Now()
	sum, files, err := filecopy.ChecksumFiles(ctx, req)
	if err != nil {
		return step{}, err
	}
	hashTime := time.Since(hashStart)
	// Per-file digests let --explain name the file that changed; a huge
	// COPY keeps only the aggregate, so records stay small.
	explain := map[string]string{}
	if len(files) <= maxExplainedFiles {
		for p, d := range files {
			explain["file:"+p] = d
		}
	}
	var uid, gid int64 = -1, -1
	if chown != nil {
		uid, gid = int64(chown.UID), int64(chown.GID)
	}
	createdBy := copyHistory(c) + " # buildkit"
	return step{
		sr: sr, st: st, text: text, createdBy: createdBy, explain: explain,
		key: keyInput{Kind: strings.ToLower(kind), Args: map[string]any{
			"sources": c.Sources, "dest": c.Dest, "workdir": st.cfg.Config.WorkingDir, "uid": uid, "gid": gid,
			"chmod": c.Chmod, "link": c.Link, "parents": c.Parents, "excludes": c.Excludes,
			"checksum": c.Checksum, "unpack": c.Unpack, "from": c.From,
		}, Inputs: map[string]string{"files": sum.String(), "source": srcKey}},
		exec: func(ctx context.Context, v *vertex) (v1.Layer, error) {
			// The key's hashing came before the step started: report it
			// now that the step has a vertex.
			b.phase(v, PhaseHash, time.Now().Add(-hashTime))
			started := time.Now()
			write := b.writeLayer
			if runAhead {
				// A RUN later in this stage needs the layer as a lower
				// directory: extract it from the bytes being written.
				write = b.writeLayerExtracted
			}
			l, err := write(ctx, func(w io.Writer) error { return filecopy.Copy(ctx, req, w) })
			if err == nil {
				b.phase(v, PhaseCopyCompress, started)
			}
			return l, err
		},
	}, nil
}

// maxExplainedFiles bounds the per-file digests a COPY record keeps.
const maxExplainedFiles = 1000

func srcName(from string) string {
	if from == "" {
		return "build context"
	}
	return from
}

// heredocFiles are COPY <<EOF files, expanded unless the name was quoted.
func (b *build) heredocFiles(sr *stageRun, hs []parser.Heredoc) ([]filecopy.Heredoc, error) {
	out := make([]filecopy.Heredoc, 0, len(hs))
	for _, h := range hs {
		data := h.Content
		if h.Expand {
			lex := shell.Lexer{SkipQuotes: true} // Docker: quotes are plain text in heredoc bodies
			v, err := lex.ProcessWord(data, sr.scope)
			if err != nil {
				return nil, fmt.Errorf("heredoc %s: %w", h.Name, err)
			}
			data = v
		}
		out = append(out, filecopy.Heredoc{Name: h.Name, Data: data})
	}
	return out, nil
}

// copyTitle is a COPY/ADD's progress title as BuildKit makes it: the
// instruction as written with variables expanded in the whole line (flags
// included), the keyword upper-cased.
func (b *build) copyTitle(sr *stageRun, kind, orig string) string {
	rest := strings.TrimSpace(strings.TrimPrefix(orig, strings.Fields(orig)[0]))
	if b.globals != nil && sr.scope != nil {
		if w, err := b.globals.Lexer().ProcessWord(orig, sr.scope); err == nil {
			if f := strings.Fields(w); len(f) > 0 {
				rest = strings.TrimSpace(strings.TrimPrefix(w, f[0]))
			}
		}
	}
	return kind + " " + rest
}

// copyHistory is a COPY/ADD's history text as BuildKit writes it: the
// instruction, --parents, --chown and --chmod (expanded; no other flag),
// the sources, then the heredoc sources, then the destination as written.
func copyHistory(c *parser.Copy) string {
	parts := []string{"COPY"}
	if c.Add {
		parts[0] = "ADD"
	}
	if c.Parents {
		parts = append(parts, "--parents")
	}
	if c.Chown != "" {
		parts = append(parts, "--chown="+c.Chown)
	}
	if c.Chmod != "" {
		parts = append(parts, "--chmod="+c.Chmod)
	}
	parts = append(parts, c.Sources...)
	parts = append(parts, heredocNames(c.Heredocs)...)
	return strings.Join(append(parts, c.Dest), " ")
}

func heredocNames(hs []parser.Heredoc) []string {
	var out []string
	for _, h := range hs {
		out = append(out, "<<"+h.Name)
	}
	return out
}

// mountInput is the cache-key input of a RUN bind mount: the content of
// what it mounts.
func (b *build) mountInput(ctx context.Context, m *parser.Mount) (string, error) {
	src, srcKey, err := b.sourceFS(ctx, m.From)
	if err != nil {
		return "", err
	}
	if m.From != "" {
		return srcKey + ":" + m.Source, nil
	}
	source := strings.TrimPrefix(path.Clean("/"+m.Source), "/")
	if source == "" {
		source = "."
	}
	sum, err := filecopy.Checksum(ctx, filecopy.Request{Src: src, Sources: []string{source}, DestPath: "/mnt/", Workdir: "/", StatCache: b.s.stats, CPU: b.s.store.CPU()})
	if err != nil {
		return "", fmt.Errorf("bind mount %s: %w", m.Source, err)
	}
	return sum.String(), nil
}

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
