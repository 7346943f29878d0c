package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	bkparser "github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/builderdev/builder/parser"
)

// Level is how serious a finding is.
type Level string

const (
	// LevelWarning findings do not fail a check.
	LevelWarning Level = "warning"
	// LevelError findings make Report.Failed true.
	LevelError Level = "error"
)

// Rule is one check: what it is called and where it is documented, and the
// function that finds its violations.
type Rule struct {
	Name        string
	Description string
	URL         string
	// BuildKit is true for BuildKit's own build checks, false for the
	// best-practice rules of this package.
	BuildKit bool
	// Experimental rules run only when named in "# check=experimental=".
	Experimental bool
	// Run returns the rule's findings; the Rule, Level and URL fields of a
	// finding are filled in by the caller.
	Run func(d *Doc) []Finding
}

// Finding is one violation of a rule at a Dockerfile line.
type Finding struct {
	Rule    string `json:"rule"`
	Level   Level  `json:"level"`
	Message string `json:"message"`
	// Fix is a concrete change that removes the finding.
	Fix     string `json:"fix,omitempty"`
	File    string `json:"file"`
	Line    int    `json:"line"`
	EndLine int    `json:"endLine"`
	URL     string `json:"url,omitempty"`
	// Bytes is, for ContextBloat, what excluding the files would save.
	Bytes int64 `json:"bytes,omitempty"`
}

// Report is the outcome of Run.
type Report struct {
	File     string    `json:"file"`
	Findings []Finding `json:"findings"`
	// Rules are the rules that ran (for SARIF's rule list).
	Rules []Rule `json:"-"`
}

// Failed reports whether any finding is an error.
func (r *Report) Failed() bool { return r.Count(LevelError) > 0 }

// Count returns how many findings have level l.
func (r *Report) Count(l Level) int {
	n := 0
	for _, f := range r.Findings {
		if f.Level == l {
			n++
		}
	}
	return n
}

// Option configures Run.
type Option func(*Doc)

// WithName sets the Dockerfile's name in findings (default "Dockerfile").
func WithName(name string) Option { return func(d *Doc) { d.Name = name } }

// WithBuildArgs sets the --build-arg values.
func WithBuildArgs(args map[string]string) Option { return func(d *Doc) { d.BuildArgs = args } }

// WithTarget sets the --target stage: the final stage for RootUser.
func WithTarget(stage string) Option { return func(d *Doc) { d.Target = strings.ToLower(stage) } }

// WithPlatform sets the build and target platforms (TARGETPLATFORM etc.).
func WithPlatform(build, target parser.Platform) Option {
	return func(d *Doc) { d.BuildPlatform, d.TargetPlatform = build, target }
}

// WithContext gives the rules that need them (ContextBloat, CopyIgnoredFile,
// CacheBustingCopy's fix, SecretInLayer) the build context directory and
// its .dockerignore patterns.
func WithContext(dir string, ignore []string) Option {
	return func(d *Doc) { d.Context = newContextView(dir, ignore) }
}

// WithResolver lets rules look at base images (UnpinnedBaseImage with pin,
// InvalidBaseImagePlatform, RootUser, UndefinedVar).
func WithResolver(r Resolver) Option { return func(d *Doc) { d.Resolver = r } }

// WithNamedContexts names the build's --build-context names: a FROM of one
// is not a registry image, so it is never resolved nor called unpinned.
func WithNamedContexts(names []string) Option {
	return func(d *Doc) {
		d.named = map[string]bool{}
		for _, n := range names {
			d.named[n] = true
		}
	}
}

// WithPin makes UnpinnedBaseImage's fix name the current digest of the base.
func WithPin(pin bool) Option { return func(d *Doc) { d.Pin = pin } }

// WithRules replaces the rule set (default Rules()).
func WithRules(rules []Rule) Option { return func(d *Doc) { d.rules = rules } }

// ErrSyntax wraps errors of a Dockerfile that cannot be parsed at all.
var ErrSyntax = errors.New("dockerfile syntax")

// Run checks the Dockerfile src. A Dockerfile that buildkit's parser
// rejects, or a bad "# check=" directive, is an error. When the typed parse
// fails (for example on a duplicate stage name) the findings of the rules
// that need only the syntax tree are returned along with that *parser.Error.
func Run(ctx context.Context, src []byte, opts ...Option) (*Report, error) {
	d := &Doc{ctx: ctx, Name: "Dockerfile", Source: src}
	for _, o := range opts {
		o(d)
	}
	if d.rules == nil {
		d.rules = Rules()
	}
	res, err := bkparser.Parse(bytes.NewReader(src))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w: %w", d.Name, ErrSyntax, err)
	}
	d.AST = res
	cfg, err := directive(src)
	if err != nil {
		return nil, fmt.Errorf("%s: parse check directive: %w", d.Name, err)
	}
	df, perr := parser.Parse(bytes.NewReader(src), parser.WithName(d.Name))
	if perr == nil {
		d.DF = df
	}
	d.index()
	rep := &Report{File: d.Name, Findings: []Finding{}}
	for _, r := range d.rules {
		if !enabled(r, cfg) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("check %s: %w", d.Name, err)
		}
		rep.Rules = append(rep.Rules, r)
		for _, f := range r.Run(d) {
			f.Rule, f.URL = r.Name, r.URL
			f.Level = LevelWarning
			if cfg.ReturnAsError {
				f.Level = LevelError
			}
			if f.File == "" {
				f.File = d.Name
			}
			if f.EndLine < f.Line {
				f.EndLine = f.Line
			}
			rep.Findings = append(rep.Findings, f)
		}
	}
	sort.SliceStable(rep.Findings, func(i, j int) bool { return rep.Findings[i].Line < rep.Findings[j].Line })
	if perr != nil {
		return rep, perr
	}
	return rep, nil
}

// directive reads "# check=..." with BuildKit's directive parser and option
// syntax (skip=A,B|all; error=true; experimental=A|all).
func directive(src []byte) (*checkConfig, error) {
	v, _, _, ok := bkparser.ParseDirective("check", src)
	if !ok {
		return &checkConfig{}, nil
	}
	v, _, _ = strings.Cut(v, " ")
	return parseCheckOptions(v)
}

func enabled(r Rule, cfg *checkConfig) bool {
	if r.Experimental {
		return cfg.ExperimentalAll || contains(cfg.ExperimentalRules, r.Name)
	}
	return !cfg.SkipAll && !contains(cfg.SkipRules, r.Name)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// Rules returns every rule, BuildKit's first.
func Rules() []Rule {
	var all []Rule
	for _, group := range [][]Rule{casingRules(), syntaxRules(), stageRules(), varRules(), platformRules(), layerRules(), imageRules(), contextRules()} {
		all = append(all, group...)
	}
	return all
}
