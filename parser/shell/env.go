package shell

import "strings"

// Env looks up variables for expansion. The bool reports whether the variable
// is set; a set variable may be empty.
type Env interface {
	Get(name string) (string, bool)
}

// EnvMap is an Env backed by a map.
type EnvMap map[string]string

var _ Env = EnvMap(nil)

// Get returns the value of name and whether it is set.
func (m EnvMap) Get(name string) (string, bool) {
	v, ok := m[name]
	return v, ok
}

// EnvList returns an Env from "KEY=VALUE" entries; later entries win. An
// entry without "=" sets KEY to the empty string, as Docker does.
func EnvList(kv []string) Env {
	m := make(EnvMap, len(kv))
	for _, e := range kv {
		k, v, _ := strings.Cut(e, "=")
		m[k] = v
	}
	return m
}

// recorder wraps an Env and remembers which names were looked up.
type recorder struct {
	env       Env
	matched   []string
	unmatched []string
	seen      map[string]bool
}

func (r *recorder) Get(name string) (string, bool) {
	var v string
	var ok bool
	if r.env != nil {
		v, ok = r.env.Get(name)
	}
	if !r.seen[name] {
		if r.seen == nil {
			r.seen = make(map[string]bool)
		}
		r.seen[name] = true
		if ok {
			r.matched = append(r.matched, name)
		} else {
			r.unmatched = append(r.unmatched, name)
		}
	}
	return v, ok
}
