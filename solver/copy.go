package solver

import (
	"context"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/internal/filecopy"
	"github.com/builderdev/builder/internal/user"
	"github.com/builderdev/builder/parser"
	"github.com/builderdev/builder/parser/shell"
	"github.com/builderdev/builder/snapshot"
)

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

// copyPrep is a COPY or ADD made ready against one state: what it reads
// and writes, and the arguments of its key.
type copyPrep struct {
	req    filecopy.Request
	src    filecopy.FS
	srcKey string
	dirs   []string // the state's layer directories
	args   map[string]any
	hint   string // the link hint: the step without its files
}

// prepareCopy resolves c's sources, destination and owner against st.
// need is what the steps after c need of the root (destView).
func (b *build) prepareCopy(ctx context.Context, sr *stageRun, st *state, c *parser.Copy, kind string, need rootNeed) (*copyPrep, error) {
	src, srcKey, err := b.sourceFS(ctx, c.From)
	if err != nil {
		return nil, err
	}
	dest, dirs, err := b.destView(ctx, st, need)
	if err != nil {
		return nil, err
	}
	var chown *user.Identity
	if c.Chown != "" {
		id, err := user.ResolveChown(dest, c.Chown)
		if err != nil {
			return nil, fmt.Errorf("--chown=%s: %w", c.Chown, err)
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
		return nil, err
	}
	req := filecopy.Request{
		Src: src, SrcName: srcName(c.From), Dest: dest,
		Sources: c.Sources, Heredocs: heredocs,
		DestPath: c.Dest, Workdir: workdirOrRoot(st.cfg.Config.WorkingDir),
		Chown: chown, KeepOwner: keepOwner, Chmod: c.Chmod,
		IsAdd: c.Add, Unpack: c.Unpack, Checksum: c.Checksum,
		Excludes: c.Excludes, Parents: c.Parents,
		Client: b.s.http, TmpDir: b.s.store.TmpDir(), ModTime: b.created,
		StatCache: b.s.stats, MaxExtractSize: b.s.maxExtract, CPU: b.s.store.CPU(),
	}
	if c.Link {
		req.Dest = nil // --link: the layer does not depend on what is below it
	}
	var uid, gid int64 = -1, -1
	if chown != nil {
		uid, gid = int64(chown.UID), int64(chown.GID)
	}
	args := map[string]any{
		"sources": c.Sources, "dest": c.Dest, "workdir": st.cfg.Config.WorkingDir, "uid": uid, "gid": gid,
		"chmod": c.Chmod, "link": c.Link, "parents": c.Parents, "excludes": c.Excludes,
		"checksum": c.Checksum, "unpack": c.Unpack, "from": c.From,
	}
	// The step without its files: its last layer is where a rebuild after
	// a change of some of them links the others from.
	hint := "copy:" + keyOf(map[string]any{"kind": kind, "args": args}).Hex
	return &copyPrep{req: req, src: src, srcKey: srcKey, dirs: dirs, args: args, hint: hint}, nil
}

// writeCopyLayer writes the layer of p into the store. With a RUN ahead
// (need) it is also extracted from the bytes being written, linking what
// a stage or an image source has; with a step ahead that looks names up,
// indexed.
func (b *build) writeCopyLayer(ctx context.Context, p *copyPrep, plan *filecopy.Plan, need rootNeed) (v1.Layer, error) {
	var onFile func(string, filecopy.FS, string)
	fn := func(w io.Writer) error { return plan.Write(ctx, w, onFile) }
	switch need {
	case needNothing:
		return b.writeLayer(ctx, fn)
	case needNames:
		return b.writeLayerIndexed(ctx, fn)
	}
	var opts []snapshot.ExtractOption
	if view, ok := p.src.(*snapshot.View); ok {
		onFile, opts = linkSources(view, p.dirs)
	}
	return b.writeLayerExtracted(ctx, fn, p.hint, opts...)
}

// copyStep prepares a COPY or ADD: its sources' checksums and its key.
func (b *build) copyStep(ctx context.Context, sr *stageRun, st *state, c *parser.Copy, kind, text string) (step, error) {
	spec := b.speculateWhileWaiting(ctx, sr, st, c)
	ahead := sr.ahead
	p, err := b.prepareCopy(ctx, sr, st, c, kind, ahead)
	spec.stop()
	if err != nil {
		return step{}, err
	}
	speculated := sr.speculation(sr.pos)
	hashStart := time.Now()
	plan, err := filecopy.NewPlan(ctx, p.req)
	if err != nil {
		return step{}, err
	}
	// Per-file digests let --explain name the file that changed; a huge
	// COPY keeps only the aggregate, so records stay small (and its
	// digests are not made).
	var sum v1.Hash
	var files map[string]string
	if plan.Len() <= maxExplainedFiles {
		sum, files, err = plan.ChecksumFiles(ctx)
	} else {
		sum, err = plan.Checksum(ctx)
	}
	if err != nil {
		plan.Close()
		return step{}, err
	}
	hashTime := time.Since(hashStart)
	explain := map[string]string{}
	for p, d := range files {
		explain["file:"+p] = d
	}
	createdBy := copyHistory(c) + " # buildkit"
	return step{
		sr: sr, st: st, text: text, createdBy: createdBy, explain: explain, close: plan.Close,
		key: keyInput{Kind: strings.ToLower(kind), Args: p.args,
			Inputs: map[string]string{"files": sum.String(), "source": p.srcKey}},
		exec: func(ctx context.Context, v *vertex) (v1.Layer, error) {
			// The key's hashing came before the step started: report it
			// now that the step has a vertex.
			b.phase(v, PhaseHash, time.Now().Add(-hashTime))
			started := time.Now()
			var l v1.Layer
			var err error
			if ahead == needFiles && speculated != nil {
				l, err = b.writeSpeculated(ctx, v, p, plan, sum.String(), speculated)
			} else {
				l, err = b.writeCopyLayer(ctx, p, plan, ahead)
			}
			if err == nil {
				b.phase(v, PhaseCopyCompress, started)
			}
			return l, err
		},
	}, nil
}

// linkSources lets the extraction of a COPY --from layer hard-link each
// file from the source view's file on disk (snapshot.WithLinkSources):
// onFile, the Request's OnFile, notes where each file comes from. A file
// of a layer of the destination (below, one of dest) is not linked, so
// that no inode shows at two paths of one root.
func linkSources(view *snapshot.View, dest []string) (onFile func(string, filecopy.FS, string), opts []snapshot.ExtractOption) {
	var paths sync.Map // clean tar name → path on disk
	onFile = func(tarName string, fsys filecopy.FS, srcName string) {
		if fsys != filecopy.FS(view) {
			return
		}
		p, err := view.RealPath(srcName)
		if err != nil {
			return
		}
		for _, d := range dest {
			if strings.HasPrefix(p, d+string(filepath.Separator)) {
				return
			}
		}
		paths.Store(path.Clean(strings.TrimPrefix(tarName, "/")), p)
	}
	lookup := func(name string) (string, bool) {
		p, ok := paths.Load(name)
		if !ok {
			return "", false
		}
		return p.(string), true
	}
	return onFile, []snapshot.ExtractOption{snapshot.WithLinkSources(lookup)}
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
