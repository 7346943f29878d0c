package solver

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/parser"
)

// meta applies an instruction that changes only the image config and
// returns the new state. The history entry is marked empty_layer.
func (b *build) meta(st *state, inst parser.Instruction) (*state, error) {
	n := st.clone()
	c := &n.cfg.Config
	var createdBy string
	switch in := inst.(type) {
	case *parser.Env:
		parts := make([]string, 0, len(in.Pairs))
		for _, kv := range in.Pairs {
			c.Env = setEnv(c.Env, kv.Key, kv.Value)
			parts = append(parts, kv.Key+"="+kv.Value)
		}
		createdBy = "ENV " + strings.Join(parts, " ")
	case *parser.Label:
		parts := make([]string, 0, len(in.Pairs))
		for _, kv := range in.Pairs {
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			c.Labels[kv.Key] = kv.Value
			parts = append(parts, kv.Key+"="+kv.Value)
		}
		createdBy = "LABEL " + strings.Join(parts, " ")
	case *parser.Expose:
		ports, err := exposedPorts(in.Ports)
		if err != nil {
			return nil, err
		}
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range ports {
			c.ExposedPorts[p] = struct{}{}
		}
		// BuildKit v0.34 (go.mod) formats this instruction's ports, in
		// order, as a list; older releases printed a map.
		createdBy = fmt.Sprintf("EXPOSE %v", ports)
	case *parser.User:
		c.User = in.User
		createdBy = "USER " + in.User
	case *parser.Volume:
		if c.Volumes == nil {
			c.Volumes = map[string]struct{}{}
		}
		for _, v := range in.Volumes {
			if strings.TrimSpace(v) == "" {
				return nil, fmt.Errorf("VOLUME specified can not be an empty string")
			}
			c.Volumes[v] = struct{}{}
		}
		createdBy = "VOLUME [" + strings.Join(in.Volumes, " ") + "]"
	case *parser.StopSignal:
		if err := validSignal(in.Signal); err != nil {
			return nil, err
		}
		c.StopSignal = in.Signal
		createdBy = "STOPSIGNAL " + in.Signal
	case *parser.Healthcheck:
		hc := &v1.HealthConfig{Test: in.Test, Interval: in.Interval, Timeout: in.Timeout, StartPeriod: in.StartPeriod, Retries: in.Retries}
		c.Healthcheck = hc
		// BuildKit prints its HealthcheckConfig with %+v: these fields, in
		// this order.
		createdBy = fmt.Sprintf("HEALTHCHECK {Test:%v Interval:%v Timeout:%v StartPeriod:%v StartInterval:%v Retries:%d}",
			in.Test, in.Interval, in.Timeout, in.StartPeriod, in.StartInterval, in.Retries)
	case *parser.Cmd:
		c.Cmd = commandLine(in.Shell, in.Cmd, c.Shell)
		n.cmdSet = true
		c.ArgsEscaped = true // BuildKit sets it on every CMD, either form
		createdBy = fmt.Sprintf("CMD %s", jsonish(c.Cmd))
	case *parser.Entrypoint:
		c.Entrypoint = commandLine(in.Shell, in.Cmd, c.Shell)
		if !st.cmdSet {
			c.Cmd = nil
		}
		createdBy = fmt.Sprintf("ENTRYPOINT %s", jsonish(c.Entrypoint))
	case *parser.Shell:
		c.Shell = append([]string(nil), in.Shell...)
		createdBy = fmt.Sprintf("SHELL %v", c.Shell)
	case *parser.Onbuild:
		c.OnBuild = append(c.OnBuild, in.Expression)
		createdBy = "ONBUILD " + in.Expression
	case *parser.Maintainer:
		n.cfg.Author = in.Maintainer
		createdBy = "MAINTAINER " + in.Maintainer
	default:
		return nil, fmt.Errorf("unsupported instruction %T", inst)
	}
	if _, ok := inst.(*parser.Onbuild); !ok { // BuildKit records no ONBUILD
		n.cfg.History = append(n.cfg.History, b.history(st, createdBy, true))
	}
	n.key = keyOf(map[string]any{"parent": st.key.String(), "config": createdBy, "cmdSet": n.cmdSet})
	return n, nil
}

// commandLine is CMD/ENTRYPOINT as stored: the shell form wrapped in SHELL.
func commandLine(shellForm bool, cmd, shell []string) []string {
	if !shellForm {
		return append([]string(nil), cmd...)
	}
	if len(shell) == 0 {
		shell = defaultShell
	}
	return append(append([]string(nil), shell...), strings.Join(cmd, " "))
}

func jsonish(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = strconv.Quote(v)
	}
	return "[" + strings.Join(q, " ") + "]"
}

func setEnv(env []string, k, v string) []string {
	out := append([]string(nil), env...)
	for i, kv := range out {
		if name, _, _ := strings.Cut(kv, "="); name == k {
			out[i] = k + "=" + v
			return out
		}
	}
	return append(out, k+"="+v)
}

// exposedPorts normalises EXPOSE arguments as Docker does: a default /tcp,
// ranges expanded.
func exposedPorts(specs []string) ([]string, error) {
	var out []string
	for _, s := range specs {
		port, proto, ok := strings.Cut(s, "/")
		if !ok || proto == "" {
			proto = "tcp"
		}
		proto = strings.ToLower(proto)
		switch proto {
		case "tcp", "udp", "sctp":
		default:
			return nil, fmt.Errorf("invalid proto: %s", proto)
		}
		if i := strings.LastIndex(port, ":"); i >= 0 { // ip:host:container forms
			port = port[i+1:]
		}
		lo, hi, isRange := strings.Cut(port, "-")
		start, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("invalid containerPort: %s", port)
		}
		end := start
		if isRange {
			if end, err = strconv.ParseUint(hi, 10, 16); err != nil || end < start {
				return nil, fmt.Errorf("invalid range specified for containerPort: %s", port)
			}
		}
		for p := start; p <= end; p++ {
			out = append(out, fmt.Sprintf("%d/%s", p, proto))
		}
	}
	return out, nil
}

var signals = map[string]bool{
	"ABRT": true, "ALRM": true, "BUS": true, "CHLD": true, "CLD": true, "CONT": true, "FPE": true, "HUP": true,
	"ILL": true, "INT": true, "IO": true, "IOT": true, "KILL": true, "PIPE": true, "POLL": true, "PROF": true,
	"PWR": true, "QUIT": true, "SEGV": true, "STKFLT": true, "STOP": true, "SYS": true, "TERM": true, "TRAP": true,
	"TSTP": true, "TTIN": true, "TTOU": true, "URG": true, "USR1": true, "USR2": true, "VTALRM": true,
	"WINCH": true, "XCPU": true, "XFSZ": true,
}

// validSignal accepts what Docker's signal.ParseSignal accepts.
func validSignal(s string) error {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return fmt.Errorf("invalid signal: %s", s)
		}
		return nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if signals[name] || strings.HasPrefix(name, "RTMIN") || strings.HasPrefix(name, "RTMAX") {
		return nil
	}
	return fmt.Errorf("invalid signal: %s", s)
}

// normalizeWorkdir is the working directory after WORKDIR p, as BuildKit
// writes it in the config: an absolute p as written (a trailing slash
// kept), a relative one joined with the current directory and cleaned.
func normalizeWorkdir(cur, p string) string {
	if path.IsAbs(p) {
		return p
	}
	return path.Join("/", cur, p)
}
