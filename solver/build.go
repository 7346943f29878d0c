package solver

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"
	"golang.org/x/sync/singleflight"

	"github.com/builderdev/builder/internal/filecopy"
	"github.com/builderdev/builder/internal/platform"
	"github.com/builderdev/builder/parser"
	"github.com/builderdev/builder/store"
)

// build is the state of one Build call.
type build struct {
	speculations
	layerIndexes
	s          *Solver
	rep        Reporter  // s's reporter, masking the build's secrets
	scrub      *scrubber // nil without secrets
	req        *Request
	df         *parser.Dockerfile
	platform   v1.Platform
	contextDir string
	contexts   map[string]namedContext
	created    time.Time
	lease      *store.Lease
	sem        *semaphore.Weighted // job slots (--jobs); nil: no bound
	images     singleflight.Group
	ctxOnce    sync.Once
	ctxFS      filecopy.FS

	noCacheFilter map[string]bool
	stages        []*stageRun
	globals       *parser.Globals
	target        int // the stage built

	// multi is set for each build of a multi-platform solve: step titles
	// name the platform. Stages in external are run by another of its
	// builds; quiet builds leave the warnings to the first.
	multi    bool
	quiet    bool
	external map[int]bool

	ran, hit atomic.Int32

	keysMu   sync.Mutex
	stepKeys []v1.Hash // every layer step's key, hit or run
	bases    baseImages
}

// stageRun is one stage of the Dockerfile in this build.
type stageRun struct {
	stage *parser.Stage
	label string // "build" or "stage-2"
	// prefix is the label as step titles show it ("" when the build has
	// only this stage).
	prefix string
	base   string        // the FROM image after expansion
	scope  *parser.Scope // ARG/ENV scope, advanced by each instruction
	// platform is FROM --platform's, else the build's.
	platform v1.Platform
	needed   bool
	deps     map[int]bool
	done     chan struct{}
	// insts are the instructions being run (ONBUILD triggers first), pos
	// the one being dispatched; specs the speculations made for later
	// ones (speculate.go).
	insts  []parser.Instruction
	pos    int
	specMu sync.Mutex
	specs  map[int]*speculation
	result *state
	err    error
	total  int // vertices of this stage, for "[label i/total]"
	// ahead is how an instruction later in the stage than the one being
	// dispatched reads the root: whether its layers will be needed
	// extracted, or only looked up.
	ahead   rootNeed
	count   int
	onbuild bool // a base image's ONBUILD trigger is being run
}

// vertex is one executed instruction, as progress shows it.
type vertex struct {
	num  int
	name string
}

func (b *build) newVertex(sr *stageRun, text string) *vertex {
	sr.count++
	if sr.onbuild {
		text = "ONBUILD " + text
	}
	return &vertex{
		num:  int(b.s.vertices.Add(1)),
		name: stepName(sr.prefix, sr.count, sr.total, text),
	}
}

// stepName is a step's progress title as BuildKit's prefixCommand writes
// it: "[label i/total] text", no label for the only stage of a build, the
// index padded to the width of the total.
func stepName(label string, i, total int, text string) string {
	if total == 0 {
		return text
	}
	out := "["
	if label != "" {
		out += label + " "
	}
	w := len(strconv.Itoa(total))
	return out + fmt.Sprintf("%*d/%d] ", w, i, total) + text
}

// solve plans the stages needed for the target and runs them, independent
// stages at once.
func (b *build) solve(ctx context.Context) (*state, error) {
	if err := b.prepare(); err != nil {
		return nil, err
	}
	if err := b.checkPlatforms(); err != nil {
		return nil, err
	}
	return b.runStages(ctx)
}

// prepare resolves the global args and plans the stages the target needs.
func (b *build) prepare() error {
	if len(b.df.Stages) == 0 {
		return fmt.Errorf("%s: no build stage in the Dockerfile", b.df.Name)
	}
	host := hostPlatform()
	globals, err := parser.NewGlobals(b.df, parser.BuildArgs{
		Values:      b.req.BuildArgs,
		Build:       parser.Platform{OS: host.OS, Architecture: host.Architecture, Variant: host.Variant},
		Target:      parser.Platform{OS: b.platform.OS, Architecture: b.platform.Architecture, Variant: b.platform.Variant},
		TargetStage: b.req.Target,
	})
	if err != nil {
		return err
	}
	b.globals = globals
	if b.target, err = b.targetStage(); err != nil {
		return err
	}
	return b.plan(b.target)
}

// runStages runs the planned stages (those of other builds excepted) and
// returns the target's result.
func (b *build) runStages(ctx context.Context) (*state, error) {
	g, gctx := errgroup.WithContext(ctx)
	specCtx, cancelSpecs := context.WithCancel(gctx)
	b.specCtx = specCtx
	defer func() {
		// What was speculated and not used is of no use now.
		cancelSpecs()
		b.specWG.Wait()
	}()
	if sources := b.contextSources(); len(sources) > 0 {
		stop := filecopy.Prefetch(gctx, b.contextFS(), sources)
		defer stop()
	}
	for i, sr := range b.stages {
		if !sr.needed || b.external[i] {
			continue
		}
		g.Go(func() error {
			defer close(sr.done)
			sr.result, sr.err = b.runStage(gctx, sr)
			return sr.err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if !b.quiet {
		b.warnUnusedArgs()
	}
	if b.external[b.target] {
		return b.waitStage(ctx, b.target)
	}
	return b.stages[b.target].result, nil
}

// contextSources are the sources, as written, of the COPY and ADD steps of
// the stages to run that read the build context: their directories are
// read (filecopy.Prefetch) while base images are resolved and cached
// steps looked up. A source with a variable is left out (its value is its
// stage's to find), and so are the sources of a step with --exclude or
// --parents (their walks are not the source's).
func (b *build) contextSources() []string {
	if b.contextDir == "" {
		return nil
	}
	var out []string
	for i, sr := range b.stages {
		if !sr.needed || b.external[i] {
			continue
		}
		for _, inst := range sr.stage.Instructions {
			c, ok := inst.(*parser.Copy)
			if !ok || c.From != "" || len(c.Excludes) > 0 || c.Parents {
				continue
			}
			for _, src := range c.Sources {
				if !strings.Contains(src, "$") {
					out = append(out, src)
				}
			}
		}
	}
	return out
}

func (b *build) targetStage() (int, error) {
	if b.req.Target == "" {
		return len(b.df.Stages) - 1, nil
	}
	if i, ok := b.stageIndex(b.req.Target, len(b.df.Stages)); ok {
		return i, nil
	}
	var names []string
	for _, st := range b.df.Stages {
		if st.Name != "" {
			names = append(names, st.Name)
		}
	}
	return 0, fmt.Errorf("target stage %q could not be found%s", b.req.Target, parser.Suggest(b.req.Target, names))
}

// stageIndex finds a stage by name (case-insensitive) or index among the
// first n stages.
func (b *build) stageIndex(ref string, n int) (int, bool) {
	for i := 0; i < n && i < len(b.df.Stages); i++ {
		if b.df.Stages[i].Name != "" && strings.EqualFold(b.df.Stages[i].Name, ref) {
			return i, true
		}
	}
	if i, err := strconv.Atoi(ref); err == nil && i >= 0 && i < n && i < len(b.df.Stages) {
		return i, true
	}
	return 0, false
}

// plan finds the stages the target needs; nothing else is resolved.
func (b *build) plan(target int) error {
	b.stages = make([]*stageRun, len(b.df.Stages))
	for i, st := range b.df.Stages {
		label := st.Name
		if label == "" {
			label = fmt.Sprintf("stage-%d", i)
		}
		b.stages[i] = &stageRun{stage: st, label: label, prefix: label, deps: map[int]bool{}, done: make(chan struct{})}
	}
	// BuildKit names no stage when its build has only one: one Dockerfile
	// stage and no other source (a COPY --from image or context, or any RUN
	// --mount, which BuildKit registers as a source of its own).
	if len(b.df.Stages) == 1 && !otherSources(b.df.Stages[0]) {
		b.stages[0].prefix = ""
	}
	if b.multi {
		// BuildKit's titles in a multi-platform build: "[linux/arm64 build 2/3]".
		for _, sr := range b.stages {
			sr.prefix = strings.TrimSpace(platform.String(b.platform) + " " + sr.prefix)
		}
	}
	var visit func(i int, path map[int]bool) error
	visit = func(i int, path map[int]bool) error {
		sr := b.stages[i]
		if sr.needed {
			return nil
		}
		sr.needed = true
		if err := b.stageDeps(i); err != nil {
			return err
		}
		for d := range sr.deps {
			if err := visit(d, path); err != nil {
				return err
			}
		}
		return nil
	}
	return visit(target, nil)
}

// stageDeps records which earlier stages stage i reads, and counts its
// vertices.
func (b *build) stageDeps(i int) error {
	sr := b.stages[i]
	st := sr.stage
	from, err := b.globals.ExpandFrom(st.From)
	if err != nil {
		return err
	}
	base := from.Image
	if base == "" {
		return locErr(st.From.Location(), fmt.Errorf("base name (%s) should not be blank", st.From.Image))
	}
	sr.base = base
	sr.platform = b.platform
	if from.Platform != "" {
		p, err := ParsePlatform(from.Platform)
		if err != nil {
			return locErr(st.From.Location(), fmt.Errorf("FROM --platform=%s: %w", st.From.Platform, err))
		}
		sr.platform = p
	}
	if j, ok := b.stageIndex(base, i); ok && !isNumeric(base) {
		sr.deps[j] = true
	} else if strings.EqualFold(base, st.Name) || b.laterStage(base, i) {
		return locErr(st.From.Location(), fmt.Errorf("FROM %s refers to itself or a later stage", base))
	}
	// FROM is a step unless the base is scratch or another stage.
	if _, isStage := b.stageIndex(base, i); !(isStage && !isNumeric(base)) && !strings.EqualFold(base, "scratch") {
		sr.total = 1
	}
	ref := func(loc parser.Location, from string) error {
		if from == "" {
			return nil
		}
		if j, ok := b.stageIndex(from, i); ok {
			sr.deps[j] = true
			return nil
		}
		if b.laterStage(from, i) || strings.EqualFold(from, st.Name) || b.laterIndex(from, i) {
			return locErr(loc, fmt.Errorf("stage %q is not defined before this stage (circular or forward reference)", from))
		}
		if isNumeric(from) {
			return locErr(loc, fmt.Errorf("invalid stage index %s", from))
		}
		return nil
	}
	for _, inst := range st.Instructions {
		switch in := inst.(type) {
		case *parser.Run:
			sr.total++
			for _, m := range in.Mounts {
				if err := ref(in.Location(), m.From); err != nil {
					return err
				}
			}
		case *parser.Copy:
			sr.total++
			if err := ref(in.Location(), in.From); err != nil {
				return err
			}
		case *parser.Workdir:
			sr.total++
		}
	}
	return nil
}

// otherSources reports whether a stage reads something BuildKit registers
// as a source state besides the Dockerfile's stages: a COPY --from that
// names no stage, or a RUN with any --mount.
func otherSources(st *parser.Stage) bool {
	for _, inst := range st.Instructions {
		switch in := inst.(type) {
		case *parser.Run:
			if len(in.Mounts) > 0 {
				return true
			}
		case *parser.Copy:
			if in.From != "" && !isNumeric(in.From) && !strings.EqualFold(in.From, st.Name) {
				return true
			}
		}
	}
	return false
}

// laterIndex reports whether ref is the index of stage i itself or of a
// later stage.
func (b *build) laterIndex(ref string, i int) bool {
	j, err := strconv.Atoi(ref)
	return err == nil && j >= i && j < len(b.df.Stages)
}

func (b *build) laterStage(ref string, i int) bool {
	for j := i; j < len(b.df.Stages); j++ {
		if b.df.Stages[j].Name != "" && strings.EqualFold(b.df.Stages[j].Name, ref) {
			return true
		}
	}
	return false
}

func isNumeric(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// waitStage returns the result of stage i once it is done.
func (b *build) waitStage(ctx context.Context, i int) (*state, error) {
	sr := b.stages[i]
	select {
	case <-sr.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if sr.err != nil {
		return nil, &stageFailedError{label: sr.label}
	}
	return sr.result, nil
}

// stageFailedError is what a step that needs a failed stage gets: the
// step is cancelled, the stage's own error is the build's.
type stageFailedError struct{ label string }

func (e *stageFailedError) Error() string { return fmt.Sprintf("stage %s failed", e.label) }

// runStage runs FROM and then each instruction of a stage in order.
func (b *build) runStage(ctx context.Context, sr *stageRun) (*state, error) {
	st, err := b.from(ctx, sr)
	if err != nil {
		return nil, locErr(sr.stage.From.Location(), err)
	}
	insts := sr.stage.Instructions
	if len(st.onbuild) > 0 {
		triggers, err := parseTriggers(b.df.Name, st.onbuild)
		if err != nil {
			return nil, locErr(sr.stage.From.Location(), err)
		}
		insts = append(triggers, insts...)
		st.onbuild = nil
		// BuildKit counts every trigger in the stage's total.
		sr.total += len(triggers)
	}
	nTriggers := len(insts) - len(sr.stage.Instructions)
	sr.scope = b.globals.NewStage(st.cfg.Config.Env)
	sr.insts = insts
	for i, inst := range insts {
		sr.pos = i
		sr.onbuild = i < nTriggers
		sr.ahead = rootNeedOf(insts[i+1:])
		next, err := b.dispatch(ctx, sr, st, inst)
		if err != nil {
			return nil, instErr(inst.Location(), shorten(inst.Original(), 60), err)
		}
		st = next
	}
	return st, nil
}

// rootNeed is how instructions read a stage's root file system.
type rootNeed int

const (
	needNothing rootNeed = iota
	// needNames: they look names up (a COPY's or ADD's destination without
	// --link, its directories and owners; a WORKDIR), which an index of
	// each layer answers (destView).
	needNames
	// needFiles: a RUN runs on the layers extracted.
	needFiles
)

// rootNeedOf is the most any of insts needs of the root.
func rootNeedOf(insts []parser.Instruction) rootNeed {
	need := needNothing
	for _, in := range insts {
		switch in := in.(type) {
		case *parser.Run:
			return needFiles
		case *parser.Workdir:
			need = needNames
		case *parser.Copy:
			if !in.Link {
				need = needNames
			}
		}
	}
	return need
}

// locErr attaches the Dockerfile location to an error once.
func locErr(loc parser.Location, err error) error {
	return instErr(loc, "", err)
}

// instErr attaches the Dockerfile location and the instruction's text.
func instErr(loc parser.Location, text string, err error) error {
	var ie *InstructionError
	var pe *parser.Error
	if errors.As(err, &ie) || errors.As(err, &pe) || errors.Is(err, context.Canceled) {
		return err
	}
	return &InstructionError{Loc: loc, Text: text, Err: err}
}

// InstructionError is a failure of one Dockerfile instruction.
type InstructionError struct {
	Loc  parser.Location
	Text string // the instruction as written, shortened
	Err  error
}

func (e *InstructionError) Error() string {
	msg := e.Err.Error()
	kw, _, _ := strings.Cut(e.Text, " ")
	if e.Text == "" || strings.HasPrefix(msg, strings.ToUpper(kw)+" ") {
		return fmt.Sprintf("%s:%d: %s", e.Loc.File, e.Loc.Start, msg)
	}
	return fmt.Sprintf("%s:%d: %s: %s", e.Loc.File, e.Loc.Start, e.Text, msg)
}

func (e *InstructionError) Unwrap() error { return e.Err }

func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}

// warnUnusedArgs reports --build-arg values no ARG of the build declares,
// as Docker does.
func (b *build) warnUnusedArgs() {
	declared := map[string]bool{}
	for _, a := range b.df.MetaArgs {
		for _, d := range a.Args {
			declared[d.Key] = true
		}
	}
	for _, sr := range b.stages {
		if !sr.needed {
			continue
		}
		for _, in := range sr.stage.Instructions {
			if a, ok := in.(*parser.Arg); ok {
				for _, d := range a.Args {
					declared[d.Key] = true
				}
			}
		}
	}
	var unused []string
	for k := range b.req.BuildArgs {
		if !declared[k] && !slices.Contains(parser.ProxyArgs, k) && k != "SOURCE_DATE_EPOCH" {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		sort.Strings(unused)
		b.info(fmt.Sprintf("warning: one or more build-args %v were not consumed", unused))
	}
}
