package check

import (
	"regexp"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/builderdev/builder/parser"
)

// BuildKit's rules about ARG and ENV variables.

func varRules() []Rule {
	return []Rule{
		bk(ruleUndefinedArgInFrom, undefinedArgInFrom),
		bk(ruleUndefinedVar, undefinedVar),
		bk(ruleInvalidDefaultArgInFrom, invalidDefaultArgInFrom),
		bk(ruleSecretsUsedInArgOrEnv, secretsInArgOrEnv),
	}
}

var platformArgs = []string{"BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT",
	"TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT", "TARGETSTAGE"}

func undefinedArgInFrom(d *Doc) []Finding {
	g := d.globals(true)
	if g == nil {
		return nil
	}
	declared := append([]string{}, platformArgs...)
	for _, a := range d.DF.MetaArgs {
		for _, def := range a.Args {
			declared = append(declared, def.Key)
		}
	}
	lex := d.lexer()
	var out []Finding
	for _, st := range d.DF.Stages {
		for _, w := range []string{st.From.Image, st.From.Platform} {
			r, err := lex.Process(w, g)
			if err != nil {
				continue
			}
			for _, v := range r.Unmatched {
				if contains(declared, v) {
					continue
				}
				s := suggest(v, declared)
				f := atLoc(st.From.Loc, ruleUndefinedArgInFrom.Format(v, s))
				fix := "declare ARG " + v + " before the first FROM"
				if s != "" {
					fix = "use $" + s + ", or " + fix
				}
				out = append(out, f.fix(fix))
			}
		}
	}
	return out
}

// expandedWords are the raw words of inst that BuildKit expands (RUN, CMD,
// ENTRYPOINT, HEALTHCHECK and SHELL are left to the shell).
func expandedWords(inst parser.Instruction) []string {
	switch v := inst.(type) {
	case *parser.Copy:
		return append(append([]string{}, v.Sources...), v.Dest, v.Chown, v.Chmod, v.From)
	case *parser.Env:
		return pairValues(v.Pairs)
	case *parser.Label:
		return append(pairValues(v.Pairs), pairKeys(v.Pairs)...)
	case *parser.Expose:
		return v.Ports
	case *parser.User:
		return []string{v.User}
	case *parser.Workdir:
		return []string{v.Path}
	case *parser.Volume:
		return v.Volumes
	case *parser.StopSignal:
		return []string{v.Signal}
	case *parser.Arg:
		var w []string
		for _, a := range v.Args {
			if a.Value != nil {
				w = append(w, *a.Value)
			}
		}
		return w
	}
	return nil
}

func pairValues(kv []parser.KeyValue) []string {
	var out []string
	for _, p := range kv {
		out = append(out, p.Value)
	}
	return out
}

func pairKeys(kv []parser.KeyValue) []string {
	var out []string
	for _, p := range kv {
		out = append(out, p.Key)
	}
	return out
}

// stageEnv returns the environment stage i starts with: its parent stage's
// final one, nothing for scratch, the base image's config env through the
// resolver; ok is false when that is unknown.
func (d *Doc) stageEnv(i int, finals [][]string) ([]string, bool) {
	ref, parent := d.baseRef(i)
	switch {
	case parent >= 0:
		return finals[parent], finals[parent] != nil
	case strings.EqualFold(ref, "scratch"):
		return []string{}, true
	}
	img := d.image(ref, d.platformOf(i))
	if img == nil {
		return nil, false
	}
	return append([]string{}, img.Env...), true
}

// undefinedVar walks every stage whose starting environment is known and
// reports variables that are neither set nor declared with ARG.
func undefinedVar(d *Doc) []Finding {
	g := d.globals(true)
	if g == nil {
		return nil
	}
	lex := d.lexer()
	finals := make([][]string, len(d.DF.Stages))
	var out []Finding
	for i, st := range d.DF.Stages {
		base, ok := d.stageEnv(i, finals)
		if !ok {
			continue
		}
		sc := g.NewStage(base)
		declared := map[string]bool{}
		for k := range d.BuildArgs {
			declared[k] = true
		}
		reported := map[string]bool{}
		for _, inst := range st.Instructions {
			var names []string
			for _, w := range expandedWords(inst) {
				r, err := lex.Process(w, sc)
				if err != nil {
					continue
				}
				names = append(names, r.Unmatched...)
			}
			for _, v := range names {
				key := itoa(inst.Location().Start) + v
				if declared[v] || reported[key] {
					continue
				}
				reported[key] = true
				s := suggest(v, scopeNames(sc, declared))
				f := atLoc(inst.Location(), ruleUndefinedVar.Format(v, s))
				fix := "define it first (ARG " + v + " or ENV " + v + "=...)"
				if s != "" {
					fix = "use $" + s + ", or " + fix
				}
				out = append(out, f.fix(fix))
			}
			if a, ok := inst.(*parser.Arg); ok {
				for _, def := range a.Args {
					declared[def.Key] = true
				}
			}
			if _, err := sc.Step(inst); err != nil {
				break
			}
		}
		finals[i] = sc.Env()
	}
	return out
}

func scopeNames(sc *parser.Scope, declared map[string]bool) []string {
	var out []string
	for _, kv := range sc.Env() {
		k, _, _ := strings.Cut(kv, "=")
		out = append(out, k)
	}
	for k := range declared {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// suggest returns the candidate closest to s (case-insensitive edit
// distance of at most 2, and less than s's length), or "".
func suggest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		dist := editDistance(strings.ToLower(s), strings.ToLower(c))
		if dist < bestD && dist < len(s) {
			best, bestD = c, dist
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// invalidDefaultArgInFrom: with only the ARG defaults (no --build-arg), a
// FROM must still name a valid image.
func invalidDefaultArgInFrom(d *Doc) []Finding {
	g := d.globals(false)
	if g == nil {
		return nil
	}
	var out []Finding
	for _, st := range d.DF.Stages {
		if !d.lexer().HasExpansion(st.From.Image) {
			continue
		}
		x, err := g.ExpandFrom(st.From)
		if err == nil && (strings.EqualFold(x.Image, "scratch") || validRef(x.Image)) {
			continue
		}
		out = append(out, atLoc(st.From.Loc, ruleInvalidDefaultArgInFrom.Format(st.From.Image)).
			fix("give the ARG used in FROM a default that names an image, e.g. ARG NAME=alpine:3.20"))
	}
	return out
}

func validRef(s string) bool {
	if s == "" {
		return false
	}
	_, err := name.ParseReference(s)
	return err == nil
}

var (
	secretKey   = regexp.MustCompile(`(?i)(?:_|^)(?:apikey|auth|credential|credentials|key|password|pword|passwd|secret|token)(?:_|$)`)
	secretAllow = regexp.MustCompile(`(?i)(?:_|^)(?:public|file|version)(?:_|$)`)
)

func secretsInArgOrEnv(d *Doc) []Finding {
	if d.DF == nil {
		return nil
	}
	var out []Finding
	check := func(instr, key string, loc parser.Location) {
		if secretKey.MatchString(key) && !secretAllow.MatchString(key) {
			out = append(out, atLoc(loc, ruleSecretsUsedInArgOrEnv.Format(instr, key)).
				fix("pass it as a secret: RUN --mount=type=secret,id="+strings.ToLower(key)+",env="+key+" ... (builder build --secret id="+strings.ToLower(key)+",env="+key+")"))
		}
	}
	visit := func(inst parser.Instruction) {
		switch v := inst.(type) {
		case *parser.Arg:
			for _, a := range v.Args {
				check("ARG", a.Key, v.Loc)
			}
		case *parser.Env:
			for _, p := range v.Pairs {
				check("ENV", p.Key, v.Loc)
			}
		}
	}
	for _, a := range d.DF.MetaArgs {
		visit(a)
	}
	for _, st := range d.DF.Stages {
		for _, inst := range st.Instructions {
			visit(inst)
		}
	}
	return out
}
