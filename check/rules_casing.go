package check

import (
	"strings"

	bkparser "github.com/moby/buildkit/frontend/dockerfile/parser"
)

// BuildKit's casing rules: stage names, FROM ... AS, instruction keywords
// and EXPOSE protocols.

func bk(r bkRule, run func(*Doc) []Finding) Rule {
	return Rule{Name: r.Name, Description: r.Description, URL: r.URL, BuildKit: true, Experimental: r.Experimental, Run: run}
}

func casingRules() []Rule {
	return []Rule{
		bk(ruleStageNameCasing, stageNameCasing),
		bk(ruleFromAsCasing, fromAsCasing),
		bk(ruleConsistentInstructionCasing, consistentCasing),
		bk(ruleExposeProtoCasing, exposeProtoCasing),
	}
}

func stageNameCasing(d *Doc) []Finding {
	var out []Finding
	for _, st := range d.stages {
		a := args(st.from)
		if len(a) == 3 && a[2] != strings.ToLower(a[2]) {
			out = append(out, at(st.from, ruleStageNameCasing.Format(a[2])).
				fix("write the stage name in lowercase: AS "+strings.ToLower(a[2])))
		}
	}
	return out
}

func fromAsCasing(d *Doc) []Finding {
	var out []Finding
	for _, st := range d.stages {
		a := args(st.from)
		from := cmdWord(st.from)
		if len(a) < 3 || !selfConsistent(from) {
			continue
		}
		want := strings.ToUpper(a[1])
		if from == strings.ToLower(from) {
			want = strings.ToLower(a[1])
		}
		if a[1] != want {
			out = append(out, at(st.from, ruleFromAsCasing.Format(from, a[1])).fix("write "+want+" to match "+from))
		}
	}
	return out
}

func selfConsistent(s string) bool { return s == strings.ToLower(s) || s == strings.ToUpper(s) }

// consistentCasing: every instruction of the stages (not the global ARGs)
// should have the casing of the majority, and no keyword mixed casing.
func consistentCasing(d *Doc) []Finding {
	var nodes []*bkparser.Node
	for _, st := range d.stages {
		nodes = append(nodes, st.from)
		nodes = append(nodes, st.nodes...)
	}
	lower, upper := 0, 0
	for _, n := range nodes {
		w := cmdWord(n)
		switch {
		case !selfConsistent(w):
		case w == strings.ToLower(w):
			lower++
		default:
			upper++
		}
	}
	majorityLower := lower > upper
	var out []Finding
	for _, n := range nodes {
		w := cmdWord(n)
		want, casing := strings.ToUpper(w), "uppercase"
		if majorityLower {
			want, casing = strings.ToLower(w), "lowercase"
		}
		if w != want {
			out = append(out, at(n, ruleConsistentInstructionCasing.Format(w, casing)).fix("write "+want))
		}
	}
	return out
}

func exposeProtoCasing(d *Doc) []Finding {
	var out []Finding
	for _, n := range d.nodes() {
		if !strings.EqualFold(n.Value, "expose") {
			continue
		}
		for _, p := range args(n) {
			_, _, port := splitPort(p)
			if i := strings.LastIndex(port, "/"); i >= 0 && port[i+1:] != strings.ToLower(port[i+1:]) {
				out = append(out, at(n, ruleExposeProtoCasing.Format(p)).fix("write "+strings.ToLower(port)))
			}
		}
	}
	return out
}

// splitPort splits an EXPOSE word into ip, host port and container port
// ([ip:[hostPort]:]containerPort[/proto]), as Docker's port parser does.
func splitPort(raw string) (ip, hostPort, port string) {
	parts := strings.Split(raw, ":")
	n := len(parts)
	switch {
	case n == 1:
		return "", "", raw
	case n == 2:
		return "", parts[0], parts[1]
	case strings.HasPrefix(raw, "[") && strings.Contains(raw, "]:"):
		i := strings.LastIndex(raw, "]:")
		rest := strings.SplitN(raw[i+2:], ":", 2)
		if len(rest) == 2 {
			return raw[:i+1], rest[0], rest[1]
		}
		return raw[:i+1], "", rest[0]
	default:
		return strings.Join(parts[:n-2], ":"), parts[n-2], parts[n-1]
	}
}

func (f Finding) fix(s string) Finding {
	f.Fix = s
	return f
}
