package check

import (
	"strings"
)

// BuildKit's stage-name rules.

var reservedStageNames = map[string]bool{"context": true, "scratch": true}

func stageRules() []Rule {
	return []Rule{
		bk(ruleDuplicateStageName, duplicateStageName),
		bk(ruleReservedStageName, reservedStageName),
	}
}

func stageName(st rawStage) string {
	if a := args(st.from); len(a) == 3 {
		return strings.ToLower(a[2])
	}
	return ""
}

func duplicateStageName(d *Doc) []Finding {
	seen := map[string]int{}
	var out []Finding
	for _, st := range d.stages {
		name := stageName(st)
		if name == "" {
			continue
		}
		if first, ok := seen[name]; ok {
			out = append(out, at(st.from, ruleDuplicateStageName.Format(name)).
				fix("rename this stage; line "+itoa(first)+" already defines "+name))
			continue
		}
		seen[name] = st.from.StartLine
	}
	return out
}

func reservedStageName(d *Doc) []Finding {
	var out []Finding
	for _, st := range d.stages {
		if name := stageName(st); reservedStageNames[name] {
			out = append(out, at(st.from, ruleReservedStageName.Format(name)).fix("rename the stage, e.g. AS "+name+"-stage"))
		}
	}
	return out
}
