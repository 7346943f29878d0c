package check

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/builderdev/builder/parser"
)

// Best-practice rules about how RUN and COPY steps use the layer cache and
// what they leave in layers.

const docsBase = "https://github.com/builderdev/builder/blob/main/README.md#builder-check"

func practice(name, desc string, run func(*Doc) []Finding) Rule {
	return Rule{Name: name, Description: desc, URL: docsBase, Run: run}
}

func layerRules() []Rule {
	return []Rule{
		practice("CacheBustingCopy", "A broad COPY before the step that installs dependencies re-runs the install on any change to the context", cacheBustingCopy),
		practice("PackageCacheLeft", "Package manager caches and lists should not be left in a layer", packageCacheLeft),
		practice("AptUpdateAlone", "apt-get update should run in the same RUN as apt-get install", aptUpdateAlone),
		practice("MergeableRuns", "Consecutive RUNs with the same package manager should be one RUN", mergeableRuns),
	}
}

// installer is a package manager's install command and the files that
// pin what it installs.
type installer struct {
	name      string
	re        *regexp.Regexp
	manifests []string
}

var installers = []installer{
	{"npm", regexp.MustCompile(`\bnpm\s+(ci|install|i)\b`), []string{"package.json", "package-lock.json", "npm-shrinkwrap.json"}},
	{"yarn", regexp.MustCompile(`\byarn(\s+install)?(\s|$|&|;)`), []string{"package.json", "yarn.lock", ".yarnrc.yml"}},
	{"pnpm", regexp.MustCompile(`\bpnpm\s+(install|i)\b`), []string{"package.json", "pnpm-lock.yaml", "pnpm-workspace.yaml"}},
	{"pip", regexp.MustCompile(`\bpip3?\s+install\b`), []string{"requirements.txt", "requirements-dev.txt", "pyproject.toml", "setup.py", "setup.cfg"}},
	{"poetry", regexp.MustCompile(`\bpoetry\s+install\b`), []string{"pyproject.toml", "poetry.lock"}},
	{"uv", regexp.MustCompile(`\buv\s+(sync|pip\s+install)\b`), []string{"pyproject.toml", "uv.lock"}},
	{"go", regexp.MustCompile(`\bgo\s+mod\s+download\b`), []string{"go.mod", "go.sum"}},
	{"bundle", regexp.MustCompile(`\bbundle\s+install\b`), []string{"Gemfile", "Gemfile.lock"}},
	{"cargo", regexp.MustCompile(`\bcargo\s+(build|fetch|install)\b`), []string{"Cargo.toml", "Cargo.lock"}},
	{"composer", regexp.MustCompile(`\bcomposer\s+install\b`), []string{"composer.json", "composer.lock"}},
	{"apt", regexp.MustCompile(`\bapt(-get)?\s+(-\S+\s+)*install\b`), nil},
	{"apk", regexp.MustCompile(`\bapk\s+(-\S+\s+)*add\b`), nil},
}

// runText is the command a RUN executes, heredoc bodies included.
func runText(r *parser.Run) string {
	var b strings.Builder
	b.WriteString(strings.Join(r.Cmd, " "))
	for _, h := range r.Heredocs {
		b.WriteString("\n")
		b.WriteString(h.Content)
	}
	return b.String()
}

// broadCopy reports whether c copies the whole context (or its root
// through a wildcard).
func broadCopy(c *parser.Copy) bool {
	if c.From != "" {
		return false
	}
	for _, s := range c.Sources {
		switch strings.TrimPrefix(s, "./") {
		case ".", "", "/", "*", "**":
			return true
		}
	}
	return false
}

func cacheBustingCopy(d *Doc) []Finding {
	if d.DF == nil {
		return nil
	}
	var out []Finding
	for _, st := range d.DF.Stages {
		var broad *parser.Copy
		// done: installers that already ran before the broad COPY (the
		// manifests were copied first; a later run only adds the project).
		done := map[string]bool{}
		for _, inst := range st.Instructions {
			switch v := inst.(type) {
			case *parser.Copy:
				if broad == nil && broadCopy(v) {
					broad = v
				}
			case *parser.Run:
				for _, in := range installers {
					m := in.re.FindString(runText(v))
					if m == "" {
						continue
					}
					if broad == nil {
						done[in.name] = true
					} else if !done[in.name] {
						out = append(out, d.cacheBustFinding(broad, v, in, strings.TrimSpace(m)))
					}
					break
				}
			}
		}
	}
	return out
}

func (d *Doc) cacheBustFinding(c *parser.Copy, r *parser.Run, in installer, cmd string) Finding {
	msg := fmt.Sprintf("%s copies the whole context before `%s` (line %d): any change to any file re-runs the install", c.Orig, cmd, r.Loc.Start)
	f := atLoc(c.Loc, msg)
	if in.manifests == nil {
		return f.fix(fmt.Sprintf("move the RUN of line %d above this COPY", r.Loc.Start))
	}
	var present []string
	if d.Context != nil {
		present = d.Context.present(in.manifests)
	}
	if len(present) == 0 {
		present = in.manifests[:min(2, len(in.manifests))]
	}
	return f.fix(fmt.Sprintf("COPY %s ./ then the RUN of line %d, then %s", strings.Join(present, " "), r.Loc.Start, c.Orig))
}

// cacheMountOn reports whether r has a cache mount whose target starts with
// one of dirs.
func cacheMountOn(r *parser.Run, dirs ...string) bool {
	for _, m := range r.Mounts {
		if m.Type != "cache" {
			continue
		}
		for _, d := range dirs {
			if strings.HasPrefix(m.Target, d) {
				return true
			}
		}
	}
	return false
}

var (
	aptInstall = regexp.MustCompile(`\bapt(-get)?\s+(-\S+\s+)*install\b`)
	aptLists   = regexp.MustCompile(`rm\s+-(rf|fr|r)\s+(/var/lib/apt/lists|/var/lib/apt/lists/\*)`)
	apkAdd     = regexp.MustCompile(`\bapk\s+(-\S+\s+)*add\b`)
	pipInstall = regexp.MustCompile(`\bpip3?\s+install\b`)
)

func packageCacheLeft(d *Doc) []Finding {
	if d.DF == nil {
		return nil
	}
	var out []Finding
	for _, st := range d.DF.Stages {
		pipEnv := false
		for _, inst := range st.Instructions {
			if e, ok := inst.(*parser.Env); ok {
				for _, p := range e.Pairs {
					if p.Key == "PIP_NO_CACHE_DIR" {
						pipEnv = true
					}
				}
			}
			r, ok := inst.(*parser.Run)
			if !ok {
				continue
			}
			txt := runText(r)
			if aptInstall.MatchString(txt) && !aptLists.MatchString(txt) && !cacheMountOn(r, "/var/lib/apt", "/var/cache/apt") {
				out = append(out, atLoc(r.Loc, "apt-get install leaves the package lists (/var/lib/apt/lists) in the layer").
					fix("end the same RUN with && rm -rf /var/lib/apt/lists/*"))
			}
			if apkAdd.MatchString(txt) && !strings.Contains(txt, "--no-cache") && !cacheMountOn(r, "/var/cache/apk", "/etc/apk/cache") {
				out = append(out, atLoc(r.Loc, "apk add without --no-cache leaves the package index in /var/cache/apk").
					fix("use apk add --no-cache"))
			}
			if pipInstall.MatchString(txt) && !strings.Contains(txt, "--no-cache-dir") && !pipEnv && !cacheMountOn(r, "/root/.cache") {
				out = append(out, atLoc(r.Loc, "pip install without --no-cache-dir leaves its download cache (~/.cache/pip) in the layer").
					fix("use pip install --no-cache-dir (or ENV PIP_NO_CACHE_DIR=1)"))
			}
		}
	}
	return out
}

var aptUpdate = regexp.MustCompile(`^apt(-get)?\s+(-\S+\s+)*update$`)

// commands splits a shell command line at &&, ||, ; and newlines.
func commands(s string) []string {
	var out []string
	for _, c := range regexp.MustCompile(`&&|\|\||;|\n`).Split(s, -1) {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

func aptUpdateAlone(d *Doc) []Finding {
	if d.DF == nil {
		return nil
	}
	var out []Finding
	for _, st := range d.DF.Stages {
		for _, inst := range st.Instructions {
			r, ok := inst.(*parser.Run)
			if !ok || !r.Shell {
				continue
			}
			cmds := commands(runText(r))
			alone := len(cmds) > 0
			for _, c := range cmds {
				alone = alone && aptUpdate.MatchString(c)
			}
			if alone {
				out = append(out, atLoc(r.Loc, "apt-get update runs alone: its cached layer keeps stale package lists for every later apt-get install").
					fix("RUN apt-get update && apt-get install -y --no-install-recommends PKG && rm -rf /var/lib/apt/lists/*"))
			}
		}
	}
	return out
}

var managers = []struct {
	name string
	re   *regexp.Regexp
}{
	{"apt-get", regexp.MustCompile(`\bapt(-get)?\s`)},
	{"apk", regexp.MustCompile(`\bapk\s`)},
	{"dnf", regexp.MustCompile(`\b(dnf|yum|microdnf)\s`)},
	{"pip", regexp.MustCompile(`\bpip3?\s`)},
	{"npm", regexp.MustCompile(`\bnpm\s`)},
	{"gem", regexp.MustCompile(`\bgem\s`)},
}

func manager(r *parser.Run) string {
	txt := runText(r)
	for _, m := range managers {
		if m.re.MatchString(txt) {
			return m.name
		}
	}
	return ""
}

func mergeableRuns(d *Doc) []Finding {
	if d.DF == nil {
		return nil
	}
	var out []Finding
	for _, st := range d.DF.Stages {
		var prev *parser.Run
		for _, inst := range st.Instructions {
			r, ok := inst.(*parser.Run)
			if !ok {
				prev = nil
				continue
			}
			if prev != nil && prev.Shell && r.Shell {
				if m := manager(r); m != "" && m == manager(prev) {
					out = append(out, atLoc(r.Loc, fmt.Sprintf("this RUN and the one on line %d both use %s: two layers where one would do", prev.Loc.Start, m)).
						fix(fmt.Sprintf("merge lines %d and %d into one RUN joined with &&", prev.Loc.Start, r.Loc.Start)))
				}
			}
			prev = r
		}
	}
	return out
}
