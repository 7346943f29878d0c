package parser

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// parseKeyValues reads buildkit's (key, value, delimiter) triplets of ENV and
// LABEL.
func parseKeyValues(req request, name string) ([]KeyValue, error) {
	if len(req.args) == 0 {
		return nil, errAtLeastOne(name)
	}
	if len(req.args)%3 != 0 {
		return nil, fmt.Errorf("Bad input to %s, too many arguments", name)
	}
	if err := noFlags(req); err != nil {
		return nil, err
	}
	var out []KeyValue
	for i := 0; i < len(req.args); i += 3 {
		if req.args[i] == "" {
			return nil, fmt.Errorf("%s names can not be blank", name)
		}
		out = append(out, KeyValue{Key: req.args[i], Value: req.args[i+1]})
	}
	return out, nil
}

func parseEnv(req request) (Instruction, error) {
	kv, err := parseKeyValues(req, "ENV")
	if err != nil {
		return nil, err
	}
	return &Env{Base: req.base, Pairs: kv}, nil
}

func parseLabel(req request) (Instruction, error) {
	kv, err := parseKeyValues(req, "LABEL")
	if err != nil {
		return nil, err
	}
	return &Label{Base: req.base, Pairs: kv}, nil
}

func parseArg(req request) (Instruction, error) {
	if len(req.args) < 1 {
		return nil, errAtLeastOne("ARG")
	}
	if err := noFlags(req); err != nil {
		return nil, err
	}
	a := &Arg{Base: req.base}
	for _, arg := range req.args {
		key, value, ok := strings.Cut(arg, "=")
		if ok && key == "" {
			return nil, fmt.Errorf("ARG names can not be blank")
		}
		def := ArgDef{Key: key}
		if ok {
			v := value
			def.Value = &v
		}
		a.Args = append(a.Args, def)
	}
	return a, nil
}

func parseExpose(req request) (Instruction, error) {
	if len(req.args) == 0 {
		return nil, errAtLeastOne("EXPOSE")
	}
	if err := noFlags(req); err != nil {
		return nil, err
	}
	ports := append([]string(nil), req.args...)
	sort.Strings(ports)
	return &Expose{Base: req.base, Ports: ports}, nil
}

func parseUser(req request) (Instruction, error) {
	if len(req.args) != 1 {
		return nil, errExactlyOne("USER")
	}
	if err := noFlags(req); err != nil {
		return nil, err
	}
	return &User{Base: req.base, User: req.args[0]}, nil
}

func parseWorkdir(req request) (Instruction, error) {
	if len(req.args) != 1 {
		return nil, errExactlyOne("WORKDIR")
	}
	if err := noFlags(req); err != nil {
		return nil, err
	}
	return &Workdir{Base: req.base, Path: req.args[0]}, nil
}

func parseVolume(req request) (Instruction, error) {
	if len(req.args) == 0 {
		return nil, errAtLeastOne("VOLUME")
	}
	if err := noFlags(req); err != nil {
		return nil, err
	}
	v := &Volume{Base: req.base}
	for _, p := range req.args {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, errors.New("VOLUME specified can not be an empty string")
		}
		v.Volumes = append(v.Volumes, p)
	}
	return v, nil
}

func parseStopSignal(req request) (Instruction, error) {
	if len(req.args) != 1 {
		return nil, errExactlyOne("STOPSIGNAL")
	}
	if err := noFlags(req); err != nil {
		return nil, err
	}
	return &StopSignal{Base: req.base, Signal: req.args[0]}, nil
}
