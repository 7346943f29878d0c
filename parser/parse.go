package parser

import (
	"fmt"
	"io"
	"regexp"
	"strings"

	bkparser "github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Dockerfile is a parsed Dockerfile.
type Dockerfile struct {
	Name string
	// Escape is the escape character: '\\' or '`' (# escape=`).
	Escape rune
	// Syntax is the value of the # syntax= directive (accepted, not acted on).
	Syntax string
	// MetaArgs are the ARG instructions before the first FROM.
	MetaArgs []*Arg
	Stages   []*Stage
}

// Stage is one FROM and the instructions up to the next FROM.
type Stage struct {
	// Name is the stage name from AS, lowercased; "" if none.
	Name         string
	Index        int
	From         *From
	Instructions []Instruction
}

// Option configures Parse.
type Option func(*options)

type options struct{ name string }

// WithName sets the file name used in locations and errors (default
// "Dockerfile").
func WithName(name string) Option { return func(o *options) { o.name = name } }

var validStageName = regexp.MustCompile(`^[a-z][a-z0-9-_.]*$`)

// Parse reads a Dockerfile and returns its stages of typed instructions.
// Every error is an *Error naming the file and line.
func Parse(r io.Reader, opts ...Option) (*Dockerfile, error) {
	o := options{name: "Dockerfile"}
	for _, opt := range opts {
		opt(&o)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read dockerfile: %w", err)
	}
	res, err := parseTree(data)
	if err != nil {
		return nil, fromBuildkit(o.name, err)
	}
	df := &Dockerfile{Name: o.name, Escape: res.EscapeToken}
	if syntax, _, _, ok := bkparser.DetectSyntax(data); ok {
		df.Syntax = syntax
	}
	names := map[string]bool{}
	for _, n := range res.AST.Children {
		inst, err := convert(n, o.name)
		if err != nil {
			return nil, err
		}
		switch v := inst.(type) {
		case *From:
			if v.Name != "" {
				if names[v.Name] {
					return nil, errorf(v.Loc, "Duplicate stage name %q, stage names should be unique", v.Name)
				}
				names[v.Name] = true
			}
			df.Stages = append(df.Stages, &Stage{Name: v.Name, Index: len(df.Stages), From: v})
		case *Arg:
			if len(df.Stages) == 0 {
				df.MetaArgs = append(df.MetaArgs, v)
				continue
			}
			st := df.Stages[len(df.Stages)-1]
			st.Instructions = append(st.Instructions, v)
		default:
			if len(df.Stages) == 0 {
				return nil, errorf(inst.Location(), "no build stage in current context")
			}
			st := df.Stages[len(df.Stages)-1]
			st.Instructions = append(st.Instructions, inst)
		}
	}
	if len(df.Stages) == 0 {
		last := 1
		if len(res.AST.Children) > 0 {
			last = res.AST.Children[len(res.AST.Children)-1].EndLine
		}
		return nil, errorf(Location{File: o.name, Start: last, End: last}, "dockerfile contains no stages to build")
	}
	return df, nil
}

// request is one node of buildkit's tree, flattened.
type request struct {
	cmd      string // lowercased
	args     []string
	flags    []string
	json     bool
	heredocs []bkparser.Heredoc
	base     Base
	sub      *bkparser.Node // ONBUILD's inner node
}

func nodeArgs(node *bkparser.Node) []string {
	result := []string{}
	for ; node.Next != nil; node = node.Next {
		arg := node.Next
		if len(arg.Children) == 0 {
			result = append(result, arg.Value)
		} else if len(arg.Children) == 1 {
			result = append(result, arg.Children[0].Value)
			result = append(result, nodeArgs(arg.Children[0])...)
		}
	}
	return result
}

func convert(n *bkparser.Node, file string) (Instruction, error) {
	loc := Location{File: file, Start: n.StartLine, End: n.EndLine}
	return convertAt(n, n.Heredocs, loc)
}

func convertAt(n *bkparser.Node, heredocs []bkparser.Heredoc, loc Location) (Instruction, error) {
	req := request{
		cmd:      strings.ToLower(n.Value),
		args:     nodeArgs(n),
		flags:    n.Flags,
		json:     n.Attributes["json"],
		heredocs: heredocs,
		base:     Base{Loc: loc, Orig: strings.TrimSpace(n.Original)},
	}
	if n.Next != nil && len(n.Next.Children) == 1 {
		req.sub = n.Next.Children[0]
	}
	inst, err := dispatch(req)
	if err != nil {
		return nil, errAt(loc, err)
	}
	return inst, nil
}

var instructionNames = []string{"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL", "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"}

func dispatch(req request) (Instruction, error) {
	switch req.cmd {
	case "from":
		return parseFrom(req)
	case "run":
		return parseRun(req)
	case "cmd":
		return parseCmd(req)
	case "entrypoint":
		return parseEntrypoint(req)
	case "copy", "add":
		return parseCopy(req)
	case "env":
		return parseEnv(req)
	case "arg":
		return parseArg(req)
	case "label":
		return parseLabel(req)
	case "expose":
		return parseExpose(req)
	case "user":
		return parseUser(req)
	case "workdir":
		return parseWorkdir(req)
	case "volume":
		return parseVolume(req)
	case "shell":
		return parseShell(req)
	case "stopsignal":
		return parseStopSignal(req)
	case "healthcheck":
		return parseHealthcheck(req)
	case "onbuild":
		return parseOnbuild(req)
	case "maintainer":
		return parseMaintainer(req)
	}
	word := strings.ToUpper(req.cmd)
	if req.base.Orig != "" {
		word = strings.Fields(req.base.Orig)[0]
	}
	return nil, fmt.Errorf("unknown instruction: %s%s", word, suggest(word, instructionNames, false))
}

func noFlags(req request) error { return newFlagSet(nil).parse(req.flags) }

func parseFrom(req request) (Instruction, error) {
	f := newFlagSet(map[string]flagKind{"platform": flagString})
	from := &From{Base: req.base}
	switch {
	case len(req.args) == 3 && strings.EqualFold(req.args[1], "as"):
		from.Name = strings.ToLower(req.args[2])
		if !validStageName.MatchString(from.Name) {
			return nil, fmt.Errorf("invalid name for build stage: %q, name can't start with a number or contain symbols", req.args[2])
		}
	case len(req.args) != 1:
		return nil, fmt.Errorf("FROM requires either one or three arguments")
	}
	if err := f.parse(req.flags); err != nil {
		return nil, err
	}
	from.Image = req.args[0]
	from.Platform = f.str["platform"]
	return from, nil
}

func parseOnbuild(req request) (Instruction, error) {
	if len(req.args) == 0 || req.sub == nil {
		return nil, fmt.Errorf("ONBUILD requires at least one argument")
	}
	if err := noFlags(req); err != nil {
		return nil, err
	}
	trigger := strings.ToUpper(strings.TrimSpace(req.args[0]))
	switch trigger {
	case "ONBUILD":
		return nil, fmt.Errorf("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
	case "MAINTAINER", "FROM":
		return nil, fmt.Errorf("%s isn't allowed as an ONBUILD trigger", trigger)
	}
	expr := regexp.MustCompile(`(?i)^\s*ONBUILD\s*`).ReplaceAllString(req.base.Orig, "")
	var b strings.Builder
	b.WriteString(expr)
	for _, h := range req.heredocs {
		b.WriteByte('\n')
		b.WriteString(h.Content)
		b.WriteString(h.Name)
	}
	inner, err := convertAt(req.sub, req.heredocs, req.base.Loc)
	if err != nil {
		return nil, err
	}
	return &Onbuild{Base: req.base, Expression: b.String(), Instruction: inner}, nil
}

func parseMaintainer(req request) (Instruction, error) {
	if len(req.args) != 1 {
		return nil, errExactlyOne("MAINTAINER")
	}
	if err := noFlags(req); err != nil {
		return nil, err
	}
	return &Maintainer{Base: req.base, Maintainer: req.args[0]}, nil
}

func errAtLeastOne(cmd string) error { return fmt.Errorf("%s requires at least one argument", cmd) }

func errExactlyOne(cmd string) error { return fmt.Errorf("%s requires exactly one argument", cmd) }
