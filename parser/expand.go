package parser

import (
	"fmt"

	"github.com/builderdev/builder/parser/shell"
)

// Expand returns a copy of inst with exactly the fields Docker (BuildKit)
// expands replaced by their expansion against env, the environment from
// BEFORE the instruction (so ENV A=1 B=$A uses the old A):
//
//   - FROM: image and --platform (env: the global ARGs);
//   - COPY/ADD: sources, dest, --chown, --chmod, ADD's --checksum (not --from),
//     and the bodies of heredocs whose name is not quoted (quotes kept);
//   - ENV and LABEL: keys and values; ARG: defaults;
//   - EXPOSE (with word splitting), USER, WORKDIR, VOLUME, STOPSIGNAL;
//   - RUN: the values of --mount options (mounts are re-parsed and checked).
//
// RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK commands, ONBUILD and MAINTAINER
// are returned unchanged (copied). Errors are *Error with the instruction's
// location.
func Expand(inst Instruction, lex *shell.Lexer, env shell.Env) (Instruction, error) {
	if lex == nil {
		lex = &shell.Lexer{Escape: '\\'}
	}
	word := func(s string) (string, error) { return lex.ProcessWord(s, env) }
	out, err := expand(inst, word, lex, env)
	if err != nil {
		return nil, errAt(inst.Location(), err)
	}
	return out, nil
}

func expandAll(in []string, word func(string) (string, error)) ([]string, error) {
	if in == nil {
		return nil, nil
	}
	out := make([]string, len(in))
	for i, s := range in {
		v, err := word(s)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

func expandPairs(in []KeyValue, word func(string) (string, error)) ([]KeyValue, error) {
	out := make([]KeyValue, len(in))
	for i, kv := range in {
		k, err := word(kv.Key)
		if err != nil {
			return nil, err
		}
		v, err := word(kv.Value)
		if err != nil {
			return nil, err
		}
		out[i] = KeyValue{Key: k, Value: v}
	}
	return out, nil
}

func expandOne(dst *string, word func(string) (string, error)) error {
	v, err := word(*dst)
	if err != nil {
		return err
	}
	*dst = v
	return nil
}

func expand(inst Instruction, word func(string) (string, error), lex *shell.Lexer, env shell.Env) (Instruction, error) {
	var err error
	switch v := inst.(type) {
	case *From:
		c := *v
		if err = expandOne(&c.Image, word); err == nil {
			err = expandOne(&c.Platform, word)
		}
		return &c, err
	case *Copy:
		return expandCopy(v, word, env)
	case *Env:
		c := *v
		c.Pairs, err = expandPairs(v.Pairs, word)
		return &c, err
	case *Label:
		c := *v
		c.Pairs, err = expandPairs(v.Pairs, word)
		return &c, err
	case *Arg:
		c := *v
		c.Args = make([]ArgDef, len(v.Args))
		for i, a := range v.Args {
			c.Args[i] = ArgDef{Key: a.Key}
			if a.Value != nil {
				val, err := word(*a.Value)
				if err != nil {
					return nil, err
				}
				c.Args[i].Value = &val
			}
		}
		return &c, nil
	case *Expose:
		c := *v
		c.Ports = []string{}
		for _, p := range v.Ports {
			ps, err := lex.ProcessWords(p, env)
			if err != nil {
				return nil, err
			}
			c.Ports = append(c.Ports, ps...)
		}
		return &c, nil
	case *User:
		c := *v
		return &c, expandOne(&c.User, word)
	case *Workdir:
		c := *v
		return &c, expandOne(&c.Path, word)
	case *StopSignal:
		c := *v
		return &c, expandOne(&c.Signal, word)
	case *Volume:
		c := *v
		c.Volumes, err = expandAll(v.Volumes, word)
		return &c, err
	case *Run:
		c := *v
		c.Cmd = append([]string(nil), v.Cmd...)
		c.Heredocs = append([]Heredoc(nil), v.Heredocs...)
		c.Mounts = nil
		for _, m := range v.Mounts {
			nm, err := parseMount(m.Raw, word)
			if err != nil {
				return nil, err
			}
			c.Mounts = append(c.Mounts, nm)
		}
		return &c, nil
	case *Cmd:
		c := *v
		c.Cmd = append([]string(nil), v.Cmd...)
		return &c, nil
	case *Entrypoint:
		c := *v
		c.Cmd = append([]string(nil), v.Cmd...)
		return &c, nil
	case *Shell:
		c := *v
		c.Shell = append([]string(nil), v.Shell...)
		return &c, nil
	case *Healthcheck:
		c := *v
		c.Test = append([]string(nil), v.Test...)
		return &c, nil
	case *Onbuild:
		c := *v
		return &c, nil
	case *Maintainer:
		c := *v
		return &c, nil
	}
	return nil, fmt.Errorf("expand: unknown instruction type %T", inst)
}

func expandCopy(v *Copy, word func(string) (string, error), env shell.Env) (Instruction, error) {
	c := *v
	var err error
	if c.Sources, err = expandAll(v.Sources, word); err != nil {
		return nil, err
	}
	for _, p := range []*string{&c.Dest, &c.Chown, &c.Chmod, &c.Checksum} {
		if err := expandOne(p, word); err != nil {
			return nil, err
		}
	}
	// Heredoc bodies (unless the name was quoted) are expanded as BuildKit
	// does: quotes kept, '\\' as the escape whatever the directive says.
	raw := &shell.Lexer{Escape: '\\', SkipQuotes: true}
	c.Heredocs = append([]Heredoc(nil), v.Heredocs...)
	for i, h := range c.Heredocs {
		if !h.Expand {
			continue
		}
		if c.Heredocs[i].Content, err = raw.ProcessWord(h.Content, env); err != nil {
			return nil, err
		}
	}
	c.Excludes = append([]string(nil), v.Excludes...)
	if c.Unpack != nil {
		u := *c.Unpack
		c.Unpack = &u
	}
	if c.Chmod != "" {
		if _, err := ParseChmod(c.Chmod); err != nil {
			return nil, err
		}
	}
	return &c, nil
}
