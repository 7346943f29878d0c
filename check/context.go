package check

import (
	"io"
	"path"
	"strings"

	"github.com/moby/patternmatcher"

	"github.com/builderdev/builder/internal/filecopy"
)

// contextView is the build context as the build sees it: filecopy's DirFS
// with the .dockerignore patterns applied.
type contextView struct {
	dir    string
	ignore []string
	fs     filecopy.FS
	walked bool
	files  []ctxEntry
}

// ctxEntry is one visible context entry.
type ctxEntry struct {
	path string
	dir  bool
	size int64
}

func newContextView(dir string, ignore []string) *contextView {
	return &contextView{dir: dir, ignore: ignore, fs: filecopy.DirFS(dir, ignore)}
}

// entries walks the visible context once (directories before their
// contents, in name order). Unreadable directories are skipped.
func (c *contextView) entries() []ctxEntry {
	if c.walked {
		return c.files
	}
	c.walked = true
	var walk func(dir string)
	walk = func(dir string) {
		ents, err := c.fs.ReadDir(dir)
		if err != nil {
			return
		}
		for _, e := range ents {
			p := e.Name()
			if dir != "." {
				p = dir + "/" + e.Name()
			}
			info, err := e.Info()
			if err != nil {
				continue
			}
			ent := ctxEntry{path: p, dir: e.IsDir()}
			if info.Mode().IsRegular() {
				ent.size = info.Size()
			}
			c.files = append(c.files, ent)
			if e.IsDir() {
				walk(p)
			}
		}
	}
	walk(".")
	return c.files
}

// present returns the names that exist at the root of the visible context.
func (c *contextView) present(names []string) []string {
	var out []string
	for _, n := range names {
		if fi, err := c.fs.Lstat(n); err == nil && fi.Mode().IsRegular() {
			out = append(out, n)
		}
	}
	return out
}

// head returns up to n bytes of a visible file.
func (c *contextView) head(name string, n int64) []byte {
	r, err := c.fs.Open(name)
	if err != nil {
		return nil
	}
	defer r.Close()
	b, _ := io.ReadAll(io.LimitReader(r, n))
	return b
}

// matcher returns the .dockerignore matcher, or nil without patterns.
func (c *contextView) matcher() *patternmatcher.PatternMatcher {
	if len(c.ignore) == 0 {
		return nil
	}
	pm, err := patternmatcher.New(c.ignore)
	if err != nil {
		return nil
	}
	return pm
}

// cleanSource returns a COPY source as a path relative to the context root.
func cleanSource(s string) string {
	c := strings.TrimPrefix(path.Clean("/"+s), "/")
	if c == "" {
		return "."
	}
	return c
}

// selects reports whether the COPY source src (cleaned) selects p: p is
// src, lies under it, or matches it as a wildcard (or lies under a match).
func selects(src, p string) bool {
	if src == "." {
		return true
	}
	if p == src || strings.HasPrefix(p, src+"/") {
		return true
	}
	parts := strings.Split(p, "/")
	for i := 1; i <= len(parts); i++ {
		if ok, _ := path.Match(src, strings.Join(parts[:i], "/")); ok {
			return true
		}
	}
	return false
}
