package parser

import (
	"strings"

	"github.com/builderdev/builder/parser/shell"
)

// ProxyArgs are the predefined build args: usable with --build-arg without a
// matching ARG; they reach RUN's environment (Scope.RunEnv) but are not
// expanded in the Dockerfile unless declared, and never recorded in the image.
// They come in pairs, upper case first.
var ProxyArgs = []string{"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"}

// Platform is an OS/architecture/variant triple, for the automatic platform
// args.
type Platform struct {
	OS           string
	Architecture string
	Variant      string
}

// String formats p as "os/arch[/variant]".
func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// BuildArgs is what a build passes in for ARG resolution.
type BuildArgs struct {
	// Values are the --build-arg values; they override ARG defaults.
	Values map[string]string
	// Build and Target give BUILDPLATFORM/BUILDOS/BUILDARCH/BUILDVARIANT and
	// TARGETPLATFORM/TARGETOS/TARGETARCH/TARGETVARIANT.
	Build, Target Platform
	// TargetStage gives TARGETSTAGE ("default" when empty).
	TargetStage string
}

// Globals is the global ARG scope of a Dockerfile: the automatic platform
// args and the meta ARGs (before the first FROM). It is what FROM lines are
// expanded against; inside a stage a global is only visible once declared
// again with ARG (ARG NAME with no default takes the global value).
//
// Use: g, err := NewGlobals(df, args); for each stage, from, err :=
// g.ExpandFrom(stage.From); sc := g.NewStage(baseImageEnv); then for each
// instruction x, err := sc.Step(inst) and act on the expanded x.
type Globals struct {
	lex  *shell.Lexer
	args BuildArgs
	vals *envList
}

var _ shell.Env = (*Globals)(nil)
var _ shell.Env = (*Scope)(nil)

// NewGlobals resolves the automatic platform args and df.MetaArgs in order: a
// --build-arg value wins, else the default expanded against the globals
// declared so far. Errors are *Error.
func NewGlobals(df *Dockerfile, args BuildArgs) (*Globals, error) {
	esc := df.Escape
	if esc == 0 {
		esc = '\\'
	}
	g := &Globals{lex: &shell.Lexer{Escape: esc}, args: args, vals: &envList{}}
	target := args.TargetStage
	if target == "" {
		target = "default"
	}
	for _, kv := range [][2]string{
		{"BUILDPLATFORM", args.Build.String()},
		{"BUILDOS", args.Build.OS},
		{"BUILDARCH", args.Build.Architecture},
		{"BUILDVARIANT", args.Build.Variant},
		{"TARGETPLATFORM", args.Target.String()},
		{"TARGETOS", args.Target.OS},
		{"TARGETARCH", args.Target.Architecture},
		{"TARGETVARIANT", args.Target.Variant},
		{"TARGETSTAGE", target},
	} {
		v := kv[1]
		if ov, ok := args.Values[kv[0]]; ok {
			v = ov
		}
		g.vals.set(kv[0], v)
	}
	for _, a := range df.MetaArgs {
		for _, def := range a.Args {
			if v, ok := args.Values[def.Key]; ok {
				g.vals.set(def.Key, v)
				continue
			}
			if def.Value == nil {
				continue
			}
			v, err := g.lex.ProcessWord(*def.Value, g.vals)
			if err != nil {
				return nil, errAt(a.Loc, err)
			}
			g.vals.set(def.Key, v)
		}
	}
	return g, nil
}

// Lexer returns the lexer for the Dockerfile's escape character.
func (g *Globals) Lexer() *shell.Lexer { return g.lex }

// Get returns a global arg's value.
func (g *Globals) Get(name string) (string, bool) { return g.vals.Get(name) }

// ExpandFrom expands a stage's FROM (image and --platform) against the
// globals.
func (g *Globals) ExpandFrom(f *From) (*From, error) {
	x, err := Expand(f, g.lex, g.vals)
	if err != nil {
		return nil, err
	}
	return x.(*From), nil
}

// NewStage starts the scope of one stage whose base image has the config env
// baseEnv ("K=V" entries).
func (g *Globals) NewStage(baseEnv []string) *Scope {
	s := &Scope{g: g, vals: &envList{}}
	for _, kv := range baseEnv {
		k, v, _ := strings.Cut(kv, "=")
		s.vals.set(k, v)
	}
	return s
}

// Scope is the variable scope inside one stage: the base image's env, then
// ENV and ARG instructions in order, each from its own line on. A later
// definition replaces an earlier one of the same name (as in BuildKit), so an
// ENV after an ARG of the same name wins. It implements shell.Env.
type Scope struct {
	g    *Globals
	vals *envList
}

// Get returns the value of name as seen by the next instruction.
func (s *Scope) Get(name string) (string, bool) { return s.vals.Get(name) }

// Env returns the build environment ("K=V", ENV and ARG values, base image
// env first) as seen by the next instruction.
func (s *Scope) Env() []string { return s.vals.list() }

// RunEnv is Env plus the predefined proxy args given as build args and not
// otherwise set: the environment of a RUN. As BuildKit, a proxy given in
// either spelling is set in both (HTTP_PROXY and http_proxy): curl reads
// only the lower case one, most other programs the upper case one.
func (s *Scope) RunEnv() []string {
	env := s.vals.list()
	for i := 0; i+1 < len(ProxyArgs); i += 2 {
		pair := [2]string{ProxyArgs[i], ProxyArgs[i+1]}
		for j, k := range pair {
			v, ok := s.g.args.Values[k]
			if !ok {
				v, ok = s.g.args.Values[pair[1-j]]
			}
			if _, set := s.vals.Get(k); ok && !set {
				env = append(env, k+"="+v)
			}
		}
	}
	return env
}

// Step expands inst against the scope (see Expand) and applies its effect on
// the scope: ENV sets its (expanded) pairs; ARG declares its names. For ARG the
// returned *Arg holds each name's effective value: the --build-arg value if
// given (not expanded), else the expanded default, else the global value of
// that name, else nil (declared, unset).
func (s *Scope) Step(inst Instruction) (Instruction, error) {
	if a, ok := inst.(*Arg); ok {
		return s.declare(a)
	}
	x, err := Expand(inst, s.g.lex, s.vals)
	if err != nil {
		return nil, err
	}
	if e, ok := x.(*Env); ok {
		for _, kv := range e.Pairs {
			s.vals.set(kv.Key, kv.Value)
		}
	}
	return x, nil
}

func (s *Scope) declare(a *Arg) (*Arg, error) {
	out := *a
	out.Args = make([]ArgDef, len(a.Args))
	for i, def := range a.Args {
		var val *string
		if v, ok := s.g.args.Values[def.Key]; ok {
			val = &v
		} else if def.Value != nil {
			v, err := s.g.lex.ProcessWord(*def.Value, s.vals)
			if err != nil {
				return nil, errAt(a.Loc, err)
			}
			val = &v
		} else if v, ok := s.g.vals.Get(def.Key); ok {
			val = &v
		}
		out.Args[i] = ArgDef{Key: def.Key, Value: val}
		if val != nil {
			s.vals.set(def.Key, *val)
		}
	}
	return &out, nil
}

// envList is an ordered name → value list; set replaces in place.
type envList struct {
	keys []string
	m    map[string]string
}

func (e *envList) Get(name string) (string, bool) {
	v, ok := e.m[name]
	return v, ok
}

func (e *envList) set(k, v string) {
	if e.m == nil {
		e.m = map[string]string{}
	}
	if _, ok := e.m[k]; !ok {
		e.keys = append(e.keys, k)
	}
	e.m[k] = v
}

func (e *envList) list() []string {
	out := make([]string, 0, len(e.keys))
	for _, k := range e.keys {
		out = append(out, k+"="+e.m[k])
	}
	return out
}
