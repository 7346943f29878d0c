package check

import (
	"path"
	"strconv"
	"strings"

	bkparser "github.com/moby/buildkit/frontend/dockerfile/parser"
)

// BuildKit's rules about how instructions are written.

func syntaxRules() []Rule {
	return []Rule{
		bk(ruleNoEmptyContinuation, noEmptyContinuation),
		bk(ruleJSONArgsRecommended, jsonArgsRecommended),
		bk(ruleLegacyKeyValueFormat, legacyKeyValue),
		bk(ruleExposeInvalidFormat, exposeInvalidFormat),
		bk(ruleMultipleInstructionsDisallowed, multipleInstructions),
		bk(ruleMaintainerDeprecated, maintainerDeprecated),
		bk(ruleWorkdirRelativePath, workdirRelative),
		bk(ruleInvalidDefinitionDescription, definitionDescription),
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func noEmptyContinuation(d *Doc) []Finding {
	var out []Finding
	for _, w := range d.AST.Warnings {
		if w.URL != ruleNoEmptyContinuation.URL || w.Location == nil {
			continue
		}
		f := Finding{Message: ruleNoEmptyContinuation.Format(), Line: w.Location.Start.Line, EndLine: w.Location.End.Line}
		out = append(out, f.fix("remove the empty line inside the continued instruction, or end the instruction before it"))
	}
	return out
}

// shellStages tells, for each stage, whether SHELL was set in it or in the
// stages it builds on.
func shellStages(d *Doc) []bool {
	set := make([]bool, len(d.stages))
	names := map[string]int{}
	for i, st := range d.stages {
		if a := args(st.from); len(a) > 0 {
			if j, ok := names[strings.ToLower(a[0])]; ok {
				set[i] = set[j]
			}
		}
		if name := stageName(st); name != "" {
			names[name] = i
		}
		for _, n := range st.nodes {
			if strings.EqualFold(n.Value, "shell") {
				set[i] = true
			}
		}
	}
	return set
}

func jsonArgsRecommended(d *Doc) []Finding {
	shells := shellStages(d)
	var out []Finding
	for i, st := range d.stages {
		shellSet := shells[i]
		for _, n := range st.nodes {
			if strings.EqualFold(n.Value, "shell") {
				shellSet = true
			}
			if !strings.EqualFold(n.Value, "cmd") && !strings.EqualFold(n.Value, "entrypoint") {
				continue
			}
			if n.Attributes["json"] || shellSet || n.Next == nil {
				continue
			}
			out = append(out, at(n, ruleJSONArgsRecommended.Format(cmdWord(n))).
				fix("use the exec form: "+cmdWord(n)+" "+jsonWords(n.Next.Value)))
		}
	}
	return out
}

// jsonWords writes a shell command line as a JSON array of its words.
func jsonWords(line string) string {
	var q []string
	for _, w := range strings.Fields(line) {
		q = append(q, strconv.Quote(w))
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func legacyKeyValue(d *Doc) []Finding {
	var out []Finding
	for _, n := range d.nodes() {
		if !strings.EqualFold(n.Value, "env") && !strings.EqualFold(n.Value, "label") {
			continue
		}
		a := args(n)
		for j := 0; j+2 < len(a); j += 3 {
			if a[j+2] == "" {
				name := strings.ToUpper(n.Value)
				out = append(out, at(n, ruleLegacyKeyValueFormat.Format(name)).
					fix("write "+name+" "+a[j]+"="+strconv.Quote(a[j+1])))
			}
		}
	}
	return out
}

func exposeInvalidFormat(d *Doc) []Finding {
	var out []Finding
	for _, n := range d.nodes() {
		if !strings.EqualFold(n.Value, "expose") {
			continue
		}
		for _, p := range args(n) {
			if ip, host, port := splitPort(p); ip != "" || host != "" {
				out = append(out, at(n, ruleExposeInvalidFormat.Format(p)).
					fix("EXPOSE only the container port ("+port+"); publish host ports at run time"))
			}
		}
	}
	return out
}

func multipleInstructions(d *Doc) []Finding {
	var out []Finding
	for _, st := range d.stages {
		last := map[string]*bkparser.Node{}
		for _, n := range st.nodes {
			kind := strings.ToLower(n.Value)
			if kind != "cmd" && kind != "entrypoint" && kind != "healthcheck" {
				continue
			}
			if prev, ok := last[kind]; ok {
				// The earlier one is ignored: report it.
				out = append(out, at(prev, ruleMultipleInstructionsDisallowed.Format(cmdWord(n))).
					fix("remove this "+strings.ToUpper(kind)+"; the one on line "+itoa(n.StartLine)+" wins"))
			}
			last[kind] = n
		}
	}
	return out
}

func maintainerDeprecated(d *Doc) []Finding {
	var out []Finding
	for _, n := range d.nodes() {
		if strings.EqualFold(n.Value, "maintainer") {
			who := strings.Join(args(n), " ")
			out = append(out, at(n, ruleMaintainerDeprecated.Format()).
				fix("LABEL org.opencontainers.image.authors="+strconv.Quote(who)))
		}
	}
	return out
}

func workdirRelative(d *Doc) []Finding {
	var out []Finding
	for _, st := range d.stages {
		for _, n := range st.nodes {
			if !strings.EqualFold(n.Value, "workdir") {
				continue
			}
			a := args(n)
			if len(a) == 1 && !path.IsAbs(a[0]) && !strings.HasPrefix(a[0], "$") {
				out = append(out, at(n, ruleWorkdirRelativePath.Format(a[0])).fix("WORKDIR "+path.Join("/", a[0])))
			}
			break // only the first WORKDIR of a stage counts
		}
	}
	return out
}

// definitionDescription (experimental in BuildKit): a comment right above
// FROM ... AS name or ARG name must start with that name.
func definitionDescription(d *Doc) []Finding {
	var out []Finding
	for _, n := range d.nodes() {
		var instr string
		var keys []string
		switch strings.ToLower(n.Value) {
		case "from":
			if a := args(n); len(a) == 3 {
				instr, keys = "FROM", []string{a[2]}
			}
		case "arg":
			instr = "ARG"
			for _, a := range args(n) {
				k, _, _ := strings.Cut(a, "=")
				keys = append(keys, k)
			}
		}
		if len(keys) == 0 || len(n.PrevComment) == 0 {
			continue
		}
		first := strings.Split(n.PrevComment[len(n.PrevComment)-1], " ")[0]
		if contains(keys, first) {
			continue
		}
		ex := keys[0]
		if len(keys) > 1 {
			ex = "<arg_key>"
		}
		out = append(out, at(n, ruleInvalidDefinitionDescription.Format(instr, ex)).
			fix("start the comment with "+ex+", or put an empty line between it and the instruction"))
	}
	return out
}
