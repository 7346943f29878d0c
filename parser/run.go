package parser

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	bkparser "github.com/moby/buildkit/frontend/dockerfile/parser"
)

// commandLine is buildkit's handleJSONArgs: the exec form as is, the shell form
// as one string.
func commandLine(req request, args []string) []string {
	if len(args) == 0 {
		return []string{}
	}
	if req.json {
		return args
	}
	return []string{strings.Join(args, " ")}
}

func heredocs(hs []bkparser.Heredoc) []Heredoc {
	var out []Heredoc
	for _, h := range hs {
		out = append(out, toHeredoc(h))
	}
	return out
}

func toHeredoc(h bkparser.Heredoc) Heredoc {
	content := h.Content
	if h.Chomp {
		content = bkparser.ChompHeredocContent(content)
	}
	return Heredoc{Name: h.Name, Content: content, Chomp: h.Chomp, Expand: h.Expand}
}

func parseRun(req request) (Instruction, error) {
	f := newFlagSet(map[string]flagKind{"mount": flagStrings, "network": flagString, "security": flagString})
	if err := f.parse(req.flags); err != nil {
		return nil, err
	}
	if len(req.args) == 0 && len(req.heredocs) == 0 {
		return nil, errAtLeastOne("RUN")
	}
	run := &Run{
		Base:     req.base,
		Shell:    !req.json,
		Cmd:      commandLine(req, req.args),
		Heredocs: heredocs(req.heredocs),
		Network:  "default",
		Security: "sandbox",
	}
	for _, raw := range f.strs["mount"] {
		m, err := parseMount(raw, nil)
		if err != nil {
			// Values with variables are checked again once expanded.
			if !strings.Contains(raw, "$") || strings.Contains(err.Error(), "doesn't support variable expansion") {
				return nil, err
			}
			m = &Mount{Raw: raw, Type: MountBind}
		}
		run.Mounts = append(run.Mounts, m)
	}
	if v, ok := f.str["network"]; ok {
		switch v {
		case "default", "none", "host":
			run.Network = v
		default:
			return nil, fmt.Errorf("invalid network mode %q", v)
		}
	}
	if v, ok := f.str["security"]; ok {
		switch v {
		case "sandbox", "insecure":
			run.Security = v
		default:
			return nil, fmt.Errorf("security %q is not valid", v)
		}
	}
	return run, nil
}

func parseCmd(req request) (Instruction, error) {
	if err := noFlags(req); err != nil {
		return nil, err
	}
	return &Cmd{Base: req.base, Shell: !req.json, Cmd: commandLine(req, req.args)}, nil
}

func parseEntrypoint(req request) (Instruction, error) {
	if err := noFlags(req); err != nil {
		return nil, err
	}
	cmd := commandLine(req, req.args)
	if len(cmd) == 0 {
		cmd = nil
	}
	return &Entrypoint{Base: req.base, Shell: !req.json, Cmd: cmd}, nil
}

func parseShell(req request) (Instruction, error) {
	if err := noFlags(req); err != nil {
		return nil, err
	}
	args := commandLine(req, req.args)
	switch {
	case len(args) == 0:
		return nil, errAtLeastOne("SHELL")
	case !req.json:
		return nil, fmt.Errorf("SHELL requires the arguments to be in JSON form")
	}
	return &Shell{Base: req.base, Shell: args}, nil
}

func parseHealthcheck(req request) (Instruction, error) {
	if len(req.args) == 0 {
		return nil, errAtLeastOne("HEALTHCHECK")
	}
	hc := &Healthcheck{Base: req.base}
	typ := strings.ToUpper(req.args[0])
	args := req.args[1:]
	if typ == "NONE" {
		if len(args) != 0 {
			return nil, errors.New("HEALTHCHECK NONE takes no arguments")
		}
		if err := noFlags(req); err != nil {
			return nil, err
		}
		hc.Test = []string{"NONE"}
		return hc, nil
	}
	f := newFlagSet(map[string]flagKind{"interval": flagString, "timeout": flagString, "start-period": flagString, "start-interval": flagString, "retries": flagString})
	if err := f.parse(req.flags); err != nil {
		return nil, err
	}
	if typ != "CMD" {
		return nil, fmt.Errorf("Unknown type %#v in HEALTHCHECK (try CMD)", typ)
	}
	cmd := commandLine(req, args)
	if len(cmd) == 0 {
		return nil, errors.New("Missing command after HEALTHCHECK CMD")
	}
	if !req.json {
		typ = "CMD-SHELL"
	}
	hc.Test = append([]string{typ}, cmd...)
	var err error
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{"interval", &hc.Interval}, {"timeout", &hc.Timeout}, {"start-period", &hc.StartPeriod}, {"start-interval", &hc.StartInterval}} {
		if *d.dst, err = parseInterval(d.name, f.str[d.name]); err != nil {
			return nil, err
		}
	}
	if v := f.str["retries"]; v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			return nil, fmt.Errorf("--retries cannot be negative (%d)", n)
		}
		hc.Retries = int(n)
	}
	return hc, nil
}

func parseInterval(name, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d != 0 && d < time.Millisecond {
		return 0, fmt.Errorf("Interval %#v cannot be less than %s", name, time.Millisecond)
	}
	return d, nil
}
