package check

import (
	"bytes"
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/builderdev/builder/parser"
)

// Rules that read the build context: what a COPY or ADD would send and
// put in a layer.

func contextRules() []Rule {
	return []Rule{
		bk(ruleCopyIgnoredFile, copyIgnoredFile),
		practice("ContextBloat", "The context should not hold .git, node_modules, __pycache__, .env or large files that no COPY needs", contextBloat),
		practice("AddInsteadOfCopy", "Use COPY for local files; ADD only to extract a local archive or fetch a URL", addInsteadOfCopy),
		practice("SecretInLayer", "Files that look like private keys or tokens should not be copied into an image", secretInLayer),
	}
}

// contextCopies returns every COPY/ADD that reads the build context.
func (d *Doc) contextCopies() []*parser.Copy {
	var out []*parser.Copy
	if d.DF == nil {
		return nil
	}
	for _, st := range d.DF.Stages {
		for _, inst := range st.Instructions {
			if c, ok := inst.(*parser.Copy); ok && c.From == "" {
				out = append(out, c)
			}
		}
	}
	return out
}

func isRemote(src string) bool {
	return strings.Contains(src, "://") || strings.HasPrefix(src, "git@")
}

func copyIgnoredFile(d *Doc) []Finding {
	if d.Context == nil {
		return nil
	}
	pm := d.Context.matcher()
	if pm == nil || pm.Exclusions() {
		return nil
	}
	rootIgnored := false
	for _, p := range pm.Patterns() {
		switch p.String() {
		case "*", "**", "**/*":
			rootIgnored = rootIgnored || !p.Exclusion()
		}
	}
	var out []Finding
	for _, c := range d.contextCopies() {
		verb, kw := "Copy", "COPY"
		if c.Add {
			verb, kw = "Add", "ADD"
		}
		for _, s := range c.Sources {
			if isRemote(s) {
				continue
			}
			src := path.Clean(s)
			if (src == "." || src == "/") && !rootIgnored {
				continue
			}
			if ok, err := pm.MatchesOrParentMatches(src); err == nil && ok {
				out = append(out, atLoc(c.Loc, ruleCopyIgnoredFile.Format(verb, src)).
					fix(fmt.Sprintf("remove %s from the %s, or stop excluding it in .dockerignore", src, kw)))
			}
		}
	}
	return out
}

const bigFile = 10 << 20

var bloatDirs = map[string]bool{".git": true, "node_modules": true, "__pycache__": true}

func bloatCandidate(e ctxEntry) bool {
	base := path.Base(e.path)
	if e.dir {
		return bloatDirs[base]
	}
	return base == ".env" || strings.HasPrefix(base, ".env.") || e.size > bigFile
}

// needed reports whether a COPY names p, a parent of it or a path inside it
// (a broad COPY of the whole context does not count).
func needed(copies []*parser.Copy, p string) bool {
	for _, c := range copies {
		for _, s := range c.Sources {
			src := cleanSource(s)
			if src == "." || src == "*" || src == "**" || isRemote(s) {
				continue
			}
			if selects(src, p) || strings.HasPrefix(src, p+"/") {
				return true
			}
		}
	}
	return false
}

func contextBloat(d *Doc) []Finding {
	if d.Context == nil || d.DF == nil {
		return nil
	}
	copies := d.contextCopies()
	loc := d.DF.Stages[0].From.Loc
	for _, c := range copies {
		if broadCopy(c) {
			loc = c.Loc
			break
		}
	}
	var out []Finding
	var skip string
	ents := d.Context.entries()
	for i, e := range ents {
		if skip != "" && strings.HasPrefix(e.path, skip+"/") {
			continue
		}
		skip = ""
		if !bloatCandidate(e) || needed(copies, e.path) {
			continue
		}
		size := e.size
		if e.dir {
			skip = e.path
			for _, sub := range ents[i+1:] {
				if !strings.HasPrefix(sub.path, e.path+"/") {
					break
				}
				size += sub.size
			}
		}
		what := e.path
		if e.dir {
			what += "/"
		}
		f := atLoc(loc, fmt.Sprintf("the context holds %s (%s) that no COPY needs", what, humanBytes(size)))
		f.Bytes = size
		out = append(out, f.fix(fmt.Sprintf("add %s to .dockerignore (saves %d bytes)", e.path, size)))
	}
	return out
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

var archiveExt = regexp.MustCompile(`(?i)\.(tar|tar\.gz|tgz|tar\.bz2|tbz2?|tar\.xz|txz|tar\.zst|tzst|tar\.lz4)$`)

func addInsteadOfCopy(d *Doc) []Finding {
	var out []Finding
	for _, c := range d.contextCopies() {
		if !c.Add || len(c.Sources) == 0 {
			continue
		}
		local := true
		for _, s := range c.Sources {
			if isRemote(s) || archiveExt.MatchString(s) {
				local = false
			}
		}
		if local {
			fix := "COPY" + strings.TrimPrefix(strings.TrimPrefix(c.Orig, "ADD"), "add")
			out = append(out, atLoc(c.Loc, "ADD of local files that are not archives: COPY does the same without ADD's extraction and URL magic").
				fix(fix))
		}
	}
	return out
}

var (
	secretNames = regexp.MustCompile(`(?i)(^|/)(id_(rsa|dsa|ecdsa|ed25519)|[^/]*\.(pem|key|p12|pfx|jks|keystore)|\.env(\.[^/]*)?|\.netrc|\.npmrc|\.pypirc|credentials(\.json)?|\.git-credentials|\.htpasswd)$`)
	secretText  = []*regexp.Regexp{
		regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----`),
		regexp.MustCompile(`\bAKIA[0-9A-Z]{16}\b`),
		regexp.MustCompile(`\bgh[pousr]_[A-Za-z0-9]{36,}\b`),
		regexp.MustCompile(`\bgithub_pat_[A-Za-z0-9_]{22,}\b`),
		regexp.MustCompile(`\bxox[abprs]-[A-Za-z0-9-]{10,}`),
		regexp.MustCompile(`\bglpat-[A-Za-z0-9_-]{20,}\b`),
		regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`),
		regexp.MustCompile(`_authToken=\S+`),
	}
)

// secretWhy says why a file looks like a secret, or "".
func secretWhy(name string, content []byte) string {
	if secretNames.MatchString(name) {
		return "its name looks like a key or credentials file"
	}
	if bytes.IndexByte(content, 0) >= 0 {
		return ""
	}
	for _, re := range secretText {
		if re.Match(content) {
			return "its content looks like a private key or token"
		}
	}
	return ""
}

func secretInLayer(d *Doc) []Finding {
	if d.Context == nil {
		return nil
	}
	var out []Finding
	for _, c := range d.contextCopies() {
		for _, e := range d.Context.entries() {
			if e.dir || !selectedBy(c, e.path) {
				continue
			}
			var head []byte
			if e.size <= 1<<20 {
				head = d.Context.head(e.path, 64<<10)
			}
			why := secretWhy(e.path, head)
			if why == "" {
				continue
			}
			out = append(out, atLoc(c.Loc, fmt.Sprintf("%s copies %s into the image: %s", strings.Fields(c.Orig)[0], e.path, why)).
				fix(fmt.Sprintf("add %s to .dockerignore and pass it at build time with RUN --mount=type=secret (builder build --secret id=...,src=%s)", e.path, e.path)))
		}
	}
	return out
}

func selectedBy(c *parser.Copy, p string) bool {
	for _, s := range c.Sources {
		if !isRemote(s) && selects(cleanSource(s), p) {
			return true
		}
	}
	return false
}
