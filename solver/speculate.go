package solver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/internal/filecopy"
	"github.com/builderdev/builder/parser"
)

// While a stage waits for another (COPY --from a stage still running), a
// later COPY of the build context in it can already write its layer and
// extract it for the steps after it: against the state the stage has now,
// which is what that COPY will see when nothing in between changes what
// it reads (a COPY --from of other paths, as usual). That is speculation:
// its layer is only kept as an extracted directory under its own diffID.
// When the COPY's turn comes it writes its layer as always, from the real
// state, and finds that directory in place when the two layers are the
// same; else the layer is extracted when a step needs it. Nothing a
// speculation makes is a cache record, a tag or a step.

// speculationDelay is how long a wait must last before a speculation
// starts: a wait for a stage that is only looking up cached steps ends
// sooner, and a no-op rebuild speculates nothing.
const speculationDelay = 50 * time.Millisecond

// speculation is one COPY's layer made ahead.
type speculation struct {
	done chan struct{}
	// layer, files and reads are set when the layer was written and
	// extracted: the layer, the checksum of the files it copied (taken
	// before they were copied) and what it looked up in the destination.
	// The COPY uses the layer as its own when its files have that checksum
	// and its destination answers those lookups alike: the layer would be
	// the same bytes.
	layer v1.Layer
	files string
	reads *destReads
}

// speculating is a scheduled speculation; stop keeps it from starting
// when the wait ended first. Once stop returns none starts: the build
// waits only for the speculations that started.
type speculating struct {
	mu      *sync.Mutex
	stopped *bool
	timer   *time.Timer
}

func (s speculating) stop() {
	if s.timer == nil {
		return
	}
	s.timer.Stop()
	s.mu.Lock()
	*s.stopped = true
	s.mu.Unlock()
}

// speculation returns the speculation made for the instruction at pos of
// sr, or nil.
func (sr *stageRun) speculation(pos int) *speculation {
	sr.specMu.Lock()
	defer sr.specMu.Unlock()
	return sr.specs[pos]
}

// speculateWhileWaiting schedules, when c copies from a stage that has not
// finished, a speculation of the next COPY of the build context in sr
// (st is the stage's state now) to start if the wait lasts.
func (b *build) speculateWhileWaiting(ctx context.Context, sr *stageRun, st *state, c *parser.Copy) speculating {
	j, ok := b.stageIndex(c.From, sr.stage.Index)
	if !ok || b.specCtx == nil {
		return speculating{}
	}
	select {
	case <-b.stages[j].done:
		return speculating{}
	default:
	}
	k, next := b.speculable(sr)
	if next == nil {
		return speculating{}
	}
	// The state's layer directories, once, here: the speculation and
	// this step then only read them.
	if _, err := b.lowerDirs(ctx, st); err != nil {
		return speculating{}
	}
	s := speculating{mu: &sync.Mutex{}, stopped: new(bool)}
	s.timer = time.AfterFunc(speculationDelay, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if !*s.stopped {
			b.speculate(sr, st, k, next)
		}
	})
	return s
}

// speculable finds the COPY of sr to speculate: the first of the build
// context after the current instruction, with only COPY --from between,
// written without variables or quotes (so it reads as it will expand),
// no ADD, heredoc or named --chown, and a RUN after it (or its layer
// would not be extracted anyway).
func (b *build) speculable(sr *stageRun) (int, *parser.Copy) {
	for k := sr.pos + 1; k < len(sr.insts); k++ {
		c, ok := sr.insts[k].(*parser.Copy)
		if !ok {
			return 0, nil
		}
		if c.From != "" {
			continue
		}
		if c.Add || len(c.Heredocs) > 0 || strings.ContainsAny(c.Original(), "$'\"\\") ||
			!numericChown(c.Chown) || rootNeedOf(sr.insts[k+1:]) != needFiles {
			return 0, nil
		}
		return k, c
	}
	return 0, nil
}

// numericChown reports whether a --chown value needs no passwd lookup.
func numericChown(v string) bool {
	if v == "" {
		return true
	}
	for _, part := range strings.SplitN(v, ":", 2) {
		if _, err := strconv.ParseUint(part, 10, 32); err != nil {
			return false
		}
	}
	return true
}

// speculate writes and extracts the layer of c, the instruction at k of
// sr, against st, in the background of the build.
func (b *build) speculate(sr *stageRun, st *state, k int, c *parser.Copy) {
	spec := &speculation{done: make(chan struct{})}
	sr.specMu.Lock()
	if sr.specs == nil {
		sr.specs = map[int]*speculation{}
	}
	if sr.specs[k] != nil {
		sr.specMu.Unlock()
		return
	}
	sr.specs[k] = spec
	sr.specMu.Unlock()
	ctx := b.specCtx
	b.specWG.Add(1)
	go func() {
		defer b.specWG.Done()
		defer close(spec.done)
		p, err := b.prepareCopy(ctx, sr, st, c, "COPY", needFiles)
		if err != nil {
			return
		}
		// The plan records what it looks up in the destination, and its
		// checksum is taken before the files are copied: the step
		// compares both with its own.
		reads := &destReads{fs: p.req.Dest}
		p.req.Dest = reads
		plan, err := filecopy.NewPlan(ctx, p.req)
		if err != nil {
			return
		}
		defer plan.Close()
		sum, err := plan.Checksum(ctx)
		if err != nil {
			return
		}
		l, err := b.writeCopyLayer(ctx, p, plan, needFiles)
		if err != nil {
			return
		}
		if id, err := l.DiffID(); err == nil {
			if _, err := b.s.layers.Ensure(ctx, id, l.Uncompressed); err == nil {
				spec.layer, spec.files, spec.reads = l, sum.String(), reads
			}
		}
	}()
}

// writeSpeculated makes the layer of p, whose files have the checksum
// files and whose speculation is spec, once spec is done: it is the
// speculation's layer when p's files and destination are what the
// speculation read; else p's layer is written, without extracting it when
// the speculation extracted the same layer (a different one is extracted
// from its tar when a step needs it).
func (b *build) writeSpeculated(ctx context.Context, v *vertex, p *copyPrep, plan *filecopy.Plan, files string, spec *speculation) (v1.Layer, error) {
	select {
	case <-spec.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if spec.layer == nil {
		return b.writeCopyLayer(ctx, p, plan, needFiles)
	}
	checked := time.Now()
	if spec.files == files && spec.reads.sameIn(p.req.Dest) {
		if _, err := b.leaseLayer(ctx, spec.layer); err == nil {
			b.phase(v, PhaseSpeculated, checked)
			return spec.layer, nil
		}
	}
	return b.writeCopyLayer(ctx, p, plan, needNothing)
}

// destReads is a COPY's destination that records what is looked up in
// it, to ask the same of another destination.
type destReads struct {
	fs     filecopy.FS
	mu     sync.Mutex
	reads  []destRead
	opened bool // a file's content was read: not recorded
}

type destRead struct{ op, name, answer string }

func (d *destReads) add(op, name, answer string) {
	d.mu.Lock()
	d.reads = append(d.reads, destRead{op, name, answer})
	d.mu.Unlock()
}

func (d *destReads) Lstat(name string) (fs.FileInfo, error) {
	fi, err := d.fs.Lstat(name)
	d.add("lstat", name, lstatAnswer(fi, err))
	return fi, err
}

func (d *destReads) Readlink(name string) (string, error) {
	t, err := d.fs.Readlink(name)
	d.add("readlink", name, answerOf(t, err))
	return t, err
}

func (d *destReads) ReadDir(name string) ([]fs.DirEntry, error) {
	ents, err := d.fs.ReadDir(name)
	d.add("readdir", name, readDirAnswer(ents, err))
	return ents, err
}

func (d *destReads) Open(name string) (io.ReadCloser, error) {
	d.mu.Lock()
	d.opened = true
	d.mu.Unlock()
	return d.fs.Open(name)
}

// sameIn reports whether every lookup recorded gets the same answer in
// fsys.
func (d *destReads) sameIn(fsys filecopy.FS) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.opened {
		return false
	}
	for _, r := range d.reads {
		var answer string
		switch r.op {
		case "lstat":
			answer = lstatAnswer(fsys.Lstat(r.name))
		case "readlink":
			answer = answerOf(fsys.Readlink(r.name))
		case "readdir":
			answer = readDirAnswer(fsys.ReadDir(r.name))
		}
		if answer != r.answer {
			return false
		}
	}
	return true
}

// lstatAnswer is what a COPY can learn from an lstat: absence, type,
// mode, owner, size, mtime.
func lstatAnswer(fi fs.FileInfo, err error) string {
	if err != nil {
		return errAnswer(err)
	}
	uid, gid := -1, -1
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		uid, gid = int(st.Uid), int(st.Gid)
	}
	return fmt.Sprintf("%v %d:%d %d %d", fi.Mode(), uid, gid, fi.Size(), fi.ModTime().UnixNano())
}

func readDirAnswer(ents []fs.DirEntry, err error) string {
	if err != nil {
		return errAnswer(err)
	}
	var sb strings.Builder
	for _, e := range ents {
		fmt.Fprintf(&sb, "%s %v\n", e.Name(), e.Type())
	}
	return sb.String()
}

func answerOf(s string, err error) string {
	if err != nil {
		return errAnswer(err)
	}
	return "= " + s
}

func errAnswer(err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return "absent"
	}
	return "error " + err.Error()
}

// speculations is the part of a build that runs speculations.
type speculations struct {
	specCtx context.Context // nil: none start
	specWG  sync.WaitGroup
}
