package check

import (
	"context"
	"strings"

	bkparser "github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/builderdev/builder/parser"
	"github.com/builderdev/builder/parser/shell"
)

// Image is what a Resolver knows about a base image.
type Image struct {
	// Digest is the manifest (or index) digest the reference points at now.
	Digest string
	// Platform is the image's os/arch[/variant].
	Platform parser.Platform
	// Env is the config's environment ("K=V").
	Env []string
	// User is the config's USER ("" is root).
	User string
}

// Resolver looks up a base image reference (as written after expansion) for
// a platform. An error makes the rules that need the image skip it.
type Resolver interface {
	Resolve(ctx context.Context, ref string, platform parser.Platform) (*Image, error)
}

// Doc is what a rule reads: the Dockerfile as buildkit's syntax tree and as
// typed instructions, the build's arguments, and optional context and
// resolver.
type Doc struct {
	ctx    context.Context
	Name   string
	Source []byte
	AST    *bkparser.Result
	// DF is nil when the typed parse failed; rules that need it skip.
	DF             *parser.Dockerfile
	BuildArgs      map[string]string
	Target         string
	BuildPlatform  parser.Platform
	TargetPlatform parser.Platform
	Context        *contextView
	Resolver       Resolver
	Pin            bool

	rules []Rule
	// named are the build's named contexts (WithNamedContexts).
	named map[string]bool
	// stages are the FROM nodes and the nodes after each (syntax tree).
	stages []rawStage
	bases  map[string]*Image
}

// rawStage is a stage of the syntax tree.
type rawStage struct {
	from  *bkparser.Node
	nodes []*bkparser.Node
}

func (d *Doc) index() {
	for _, n := range d.AST.AST.Children {
		if strings.EqualFold(n.Value, "from") {
			d.stages = append(d.stages, rawStage{from: n})
			continue
		}
		if len(d.stages) > 0 {
			st := &d.stages[len(d.stages)-1]
			st.nodes = append(st.nodes, n)
		}
	}
}

// nodes returns every top-level node of the syntax tree.
func (d *Doc) nodes() []*bkparser.Node { return d.AST.AST.Children }

// at returns a finding located at node n.
func at(n *bkparser.Node, msg string) Finding {
	return Finding{Message: msg, Line: n.StartLine, EndLine: n.EndLine}
}

// atLoc returns a finding located at an instruction.
func atLoc(l parser.Location, msg string) Finding {
	return Finding{Message: msg, Line: l.Start, EndLine: l.End}
}

// cmdWord is the instruction keyword as written (e.g. "From", "RUN").
func cmdWord(n *bkparser.Node) string {
	if f := strings.Fields(n.Original); len(f) > 0 {
		return f[0]
	}
	return n.Value
}

// args returns the node's arguments as buildkit's instruction parser sees
// them (for ENV/LABEL: name, value, delimiter triples).
func args(n *bkparser.Node) []string {
	var out []string
	for a := n.Next; a != nil; a = a.Next {
		out = append(out, a.Value)
	}
	return out
}

// lexer is the word expander for the Dockerfile's escape character.
func (d *Doc) lexer() *shell.Lexer {
	esc := rune('\\')
	if d.AST != nil && d.AST.EscapeToken != 0 {
		esc = d.AST.EscapeToken
	}
	return &shell.Lexer{Escape: esc}
}

// globals returns the global ARG scope, or nil if the typed parse failed or
// a default cannot be expanded.
func (d *Doc) globals(withBuildArgs bool) *parser.Globals {
	if d.DF == nil {
		return nil
	}
	ba := parser.BuildArgs{Build: d.BuildPlatform, Target: d.TargetPlatform, TargetStage: d.Target}
	if withBuildArgs {
		ba.Values = d.BuildArgs
	}
	g, err := parser.NewGlobals(d.DF, ba)
	if err != nil {
		return nil
	}
	return g
}

// stageByName returns the index of the stage named name before stage i, or -1.
func (d *Doc) stageByName(name string, before int) int {
	if d.DF == nil {
		return -1
	}
	name = strings.ToLower(name)
	for j := 0; j < before && j < len(d.DF.Stages); j++ {
		if d.DF.Stages[j].Name == name && name != "" {
			return j
		}
	}
	return -1
}

// baseRef returns stage i's base image expanded, and the index of the stage
// it builds on (-1 for an image or scratch).
func (d *Doc) baseRef(i int) (string, int) {
	st := d.DF.Stages[i]
	ref := st.From.Image
	if g := d.globals(true); g != nil {
		if x, err := g.ExpandFrom(st.From); err == nil {
			ref = x.Image
		}
	}
	return ref, d.stageByName(ref, i)
}

// finalStage is the --target stage, or the last one.
func (d *Doc) finalStage() int {
	if d.Target != "" {
		for i, st := range d.DF.Stages {
			if st.Name == d.Target {
				return i
			}
		}
	}
	return len(d.DF.Stages) - 1
}

// platformOf returns the platform stage i is built for.
func (d *Doc) platformOf(i int) parser.Platform {
	st := d.DF.Stages[i]
	if st.From.Platform != "" {
		if g := d.globals(true); g != nil {
			if x, err := g.ExpandFrom(st.From); err == nil && x.Platform != "" {
				if p, ok := parsePlatform(x.Platform); ok {
					return p
				}
			}
		}
	}
	return d.TargetPlatform
}

// image resolves ref for platform p once; nil without a resolver, for
// scratch, or when it fails.
func (d *Doc) image(ref string, p parser.Platform) *Image {
	if d.Resolver == nil || strings.EqualFold(ref, "scratch") || ref == "" || d.named[ref] {
		return nil
	}
	key := p.String() + " " + ref
	if img, ok := d.bases[key]; ok {
		return img
	}
	img, err := d.Resolver.Resolve(d.ctx, ref, p)
	if err != nil {
		img = nil
	}
	if d.bases == nil {
		d.bases = map[string]*Image{}
	}
	d.bases[key] = img
	return img
}

// parsePlatform parses os/arch[/variant].
func parsePlatform(s string) (parser.Platform, bool) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return parser.Platform{}, false
	}
	p := parser.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, true
}
