package filecopy

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	"github.com/moby/patternmatcher"

	"github.com/builderdev/builder/internal/layer"
	"github.com/builderdev/builder/parser"
)

// plan is the set of entries one COPY/ADD writes.
type plan struct {
	req     *Request
	entries map[string]*entry
	mtime   time.Time
	chmod   func(int64, bool) int64
	excl    *patternmatcher.PatternMatcher
	cleanup []string
	spool   *os.File
	group   int // counts selected sources, for entry.group
	budget  *layer.Budget

	resolved map[string]string // inDest's resolved directories
}

// item is one selected source.
type item struct {
	name     string // as matched, relative to Src's root
	resolved string // symlinks followed inside Src
	fi       fs.FileInfo
	parent   string // --parents: the part of name kept under the destination
}

func newPlan(req *Request) (*plan, error) {
	p := &plan{req: req, entries: map[string]*entry{}, mtime: req.ModTime}
	if p.mtime.IsZero() {
		p.mtime = time.Now()
	}
	p.mtime = p.mtime.Truncate(time.Second)
	if req.Chmod != "" {
		f, err := parser.ParseChmod(req.Chmod)
		if err != nil {
			return nil, err
		}
		p.chmod = f.ApplyUnix
	}
	if len(req.Excludes) > 0 {
		pm, err := patternmatcher.New(req.Excludes)
		if err != nil {
			return nil, fmt.Errorf("parse exclude patterns: %w", err)
		}
		p.excl = pm
	}
	return p, nil
}

// close removes downloads and spools.
func (p *plan) close() {
	if p.spool != nil {
		p.spool.Close()
	}
	for _, f := range p.cleanup {
		os.Remove(f)
	}
}

func (p *plan) srcName() string {
	if p.req.SrcName != "" {
		return p.req.SrcName
	}
	return "build context"
}

func (p *plan) verb() string {
	if p.req.IsAdd {
		return "ADD"
	}
	return "COPY"
}

// build selects the sources and fills p.entries.
func (p *plan) build(ctx context.Context) error {
	req := p.req
	destPath := req.DestPath
	dirSuffix := destPath == "" || destPath == "." || strings.HasSuffix(destPath, "/") ||
		strings.HasSuffix(destPath, "/.") || destPath == ".." || strings.HasSuffix(destPath, "/..")
	if !path.IsAbs(destPath) {
		wd := req.Workdir
		if wd == "" {
			wd = "/"
		}
		destPath = path.Join("/", wd, destPath)
	}
	dest, err := resolveIn(req.Dest, destPath, true)
	if err != nil {
		return fmt.Errorf("resolve destination %s: %w", destPath, err)
	}

	if req.Checksum != "" {
		for _, src := range req.Sources {
			if !isURL(src) && !isGit(src) {
				return fmt.Errorf("checksum can't be specified for non-HTTP(S) sources: %s", src)
			}
		}
	}
	var items []item
	var urls []string
	for _, src := range req.Sources {
		if isURL(src) {
			if !req.IsAdd {
				return fmt.Errorf("source can't be a URL for COPY: %s", src)
			}
			urls = append(urls, src)
			continue
		}
		if isGit(src) {
			return fmt.Errorf("%s: git sources are not supported: %s", p.verb(), src)
		}
		sel, err := p.selectSources(src)
		if err != nil {
			return err
		}
		items = append(items, sel...)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	n := len(items) + len(urls) + len(req.Heredocs)
	if (len(req.Sources)+len(req.Heredocs) > 1 || n > 1) && !dirSuffix && !p.isDir(dest) && !req.Parents {
		return fmt.Errorf("when using %s with more than one source file, the destination must be a directory and end with a /", p.verb())
	}
	if n == 0 && p.onlyEmptyWildcards() {
		// BuildKit copies nothing, not even the destination directory,
		// for a wildcard that matches nothing; it is not an error
		return nil
	}
	if dirSuffix || req.Parents {
		if err := p.mkdirAll(dest, p.createdOwner()); err != nil {
			return err
		}
	} else if err := p.mkdirAll(parentOf(dest), p.createdOwner()); err != nil {
		return err
	}

	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := p.copyItem(ctx, it, dest); err != nil {
			return err
		}
	}
	for _, u := range urls {
		if err := p.addURL(ctx, u, dest); err != nil {
			return err
		}
	}
	for _, h := range req.Heredocs {
		p.addHeredoc(h, dest)
	}
	return nil
}

// onlyEmptyWildcards reports whether every source is a wildcard (none a
// URL, no heredocs) so that nothing selected means nothing matched. With
// --parents BuildKit copies the root (or pivot) filtered by the pattern,
// which creates the destination even when nothing matches.
func (p *plan) onlyEmptyWildcards() bool {
	if p.req.Parents || len(p.req.Heredocs) > 0 || len(p.req.Sources) == 0 {
		return false
	}
	for _, src := range p.req.Sources {
		if isURL(src) || isGit(src) || !hasWildcard(src) {
			return false
		}
	}
	return true
}

func parentOf(name string) string {
	d := path.Dir("/" + name)
	return strings.TrimPrefix(d, "/")
}

type owner struct{ uid, gid int }

// createdOwner is the owner of directories the step creates.
func (p *plan) createdOwner() owner {
	if c := p.req.Chown; c != nil {
		return owner{int(c.UID), int(c.GID)}
	}
	return owner{}
}

// setOwner applies --chown, or the 0:0 reset, to hdr.
func (p *plan) setOwner(hdr *tar.Header) {
	switch {
	case p.req.Chown != nil:
		hdr.Uid, hdr.Gid = int(p.req.Chown.UID), int(p.req.Chown.GID)
	case !p.req.KeepOwner:
		hdr.Uid, hdr.Gid = 0, 0
	}
}

func (p *plan) applyChmod(hdr *tar.Header) {
	if p.chmod != nil && hdr.Typeflag != tar.TypeSymlink {
		hdr.Mode = p.chmod(hdr.Mode, hdr.Typeflag == tar.TypeDir)
	}
}

// selectSources expands one source argument into items.
func (p *plan) selectSources(src string) ([]item, error) {
	fsys := p.req.Src
	base, pattern := "", src
	if p.req.Parents {
		if b, pat, ok := strings.Cut(src, "/./"); ok {
			base, pattern = relName(b), pat
		}
	}
	full := relName(path.Join(base, pattern))
	var names []string
	if hasWildcard(full) {
		// the fixed directory before the first wildcard must exist
		fixed := []string{}
		for _, c := range strings.Split(full, "/") {
			if hasWildcard(c) {
				break
			}
			fixed = append(fixed, c)
		}
		if len(fixed) > 0 {
			r, err := resolveIn(fsys, strings.Join(fixed, "/"), true)
			if err != nil {
				return nil, err
			}
			if _, err := fsys.Lstat(fsName(r)); err != nil {
				return nil, p.notFound(src, err)
			}
		}
		var err error
		if names, err = expandWildcards(fsys, full, p.req.Parents); err != nil {
			return nil, err
		}
	} else {
		names = []string{relName(unescape(full))}
	}
	var out []item
	for _, name := range names {
		r, err := resolveIn(fsys, name, true)
		if err != nil {
			return nil, err
		}
		fi, err := fsys.Lstat(fsName(r))
		if err != nil {
			return nil, p.notFound(src, err)
		}
		it := item{name: name, resolved: r, fi: fi}
		if p.req.Parents {
			it.parent = strings.TrimPrefix(strings.TrimPrefix(name, base), "/")
			if base == "" {
				it.parent = name
			}
		}
		if p.excludedTop(it) {
			continue
		}
		out = append(out, it)
	}
	return out, nil
}

func (p *plan) notFound(src string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s failed: file not found in %s: %s: %w", p.verb(), p.srcName(), src, ErrNotFound)
	}
	return fmt.Errorf("stat %s: %w", src, err)
}

// excludedTop reports whether a selected source is excluded: by its full
// name or its base name; with --parents by its path relative to the context
// root (or the "/./" pivot), as BuildKit matches them there.
func (p *plan) excludedTop(it item) bool {
	if p.excl == nil || it.name == "" {
		return false
	}
	if p.req.Parents {
		if it.parent == "" {
			return false
		}
		m, _ := p.excl.MatchesOrParentMatches(it.parent)
		return m
	}
	m1, _ := p.excl.MatchesOrParentMatches(it.name)
	m2, _ := p.excl.MatchesOrParentMatches(path.Base(it.name))
	return m1 || m2
}

// isDir reports whether name is a directory in the planned result.
func (p *plan) isDir(name string) bool {
	if name == "" {
		return true
	}
	if e, ok := p.entries[name]; ok {
		return e.hdr.Typeflag == tar.TypeDir
	}
	if p.req.Dest == nil {
		return false
	}
	fi, err := p.req.Dest.Lstat(name)
	return err == nil && fi.IsDir()
}

// exists reports whether name exists in the planned result (as any type).
func (p *plan) existsNonDir(name string) bool {
	if e, ok := p.entries[name]; ok {
		return e.hdr.Typeflag != tar.TypeDir
	}
	if p.req.Dest == nil || name == "" {
		return false
	}
	fi, err := p.req.Dest.Lstat(name)
	return err == nil && !fi.IsDir()
}

// mkdirAll creates the missing directories of name like fsutil's MkdirAll:
// 0755, owned by o, mtime of the step.
func (p *plan) mkdirAll(name string, o owner) error {
	if name == "" {
		return nil
	}
	cur := ""
	for _, c := range strings.Split(name, "/") {
		cur = path.Join(cur, c)
		if p.isDir(cur) {
			continue
		}
		if p.existsNonDir(cur) {
			return fmt.Errorf("%s failed: cannot copy to non-directory: /%s", p.verb(), cur)
		}
		p.entries[cur] = &entry{name: cur, hdr: tar.Header{
			Typeflag: tar.TypeDir, Mode: 0o755, Uid: o.uid, Gid: o.gid,
			ModTime: p.mtime, Format: tar.FormatPAX,
		}}
	}
	return nil
}

// put records e, replacing what an earlier source wrote there.
func (p *plan) put(e *entry) {
	if e.hdr.Typeflag == tar.TypeSymlink || e.hdr.Typeflag == tar.TypeDir {
		p.resolved = nil // it may change how names resolve
	}
	if old, ok := p.entries[e.name]; ok && old.hdr.Typeflag == tar.TypeDir && e.hdr.Typeflag != tar.TypeDir {
		prefix := e.name + "/"
		for k := range p.entries {
			if strings.HasPrefix(k, prefix) {
				delete(p.entries, k)
			}
		}
	}
	p.entries[e.name] = e
}

// fileEntry makes the entry for a non-directory-walk source file.
func (p *plan) fileEntry(target, srcName string, fi fs.FileInfo) (*entry, bool, error) {
	hdr, ok := layer.TarHeader(fi)
	if !ok {
		return nil, false, nil
	}
	p.setOwner(&hdr)
	p.applyChmod(&hdr)
	e := &entry{name: target, hdr: hdr}
	fsys := p.req.Src
	switch hdr.Typeflag {
	case tar.TypeSymlink:
		l, err := fsys.Readlink(srcName)
		if err != nil {
			return nil, false, fmt.Errorf("readlink %s: %w", srcName, err)
		}
		e.hdr.Linkname = l
	case tar.TypeReg:
		e.fsys, e.srcName, e.fi = fsys, srcName, fi
		e.open = func() (io.ReadCloser, error) { return fsys.Open(srcName) }
		if id, nlink, ok := statID(fi); ok && nlink > 1 {
			e.id, e.linked, e.group = id, true, p.group
		}
	}
	return e, true, nil
}

// copyItem copies one selected source into dest. BuildKit copies each
// source and wildcard match separately, so hard links are kept only between
// files of the same item.
func (p *plan) copyItem(ctx context.Context, it item, dest string) error {
	p.group++
	if it.fi.IsDir() {
		target := dest
		if p.req.Parents && it.parent != "" {
			target = path.Join(dest, it.parent)
			if err := p.parentDirs(it, dest, true); err != nil {
				return err
			}
		} else if err := p.mkdirAll(target, p.createdOwner()); err != nil {
			return err
		}
		// --exclude patterns are relative to each source, or with
		// --parents to the root (or pivot) the source is under
		rel := ""
		if p.req.Parents {
			rel = it.parent
		}
		_, err := p.walk(ctx, it.resolved, target, rel)
		return err
	}
	if p.req.IsAdd && it.fi.Mode().IsRegular() && (p.req.Unpack == nil || *p.req.Unpack) {
		ok, err := p.maybeExtract(ctx, func() (io.ReadCloser, error) { return p.req.Src.Open(it.resolved) }, dest)
		if err != nil || ok {
			return err
		}
	}
	target := dest
	switch {
	case p.req.Parents:
		target = path.Join(dest, it.parent)
		if err := p.parentDirs(it, dest, false); err != nil {
			return err
		}
	case p.isDir(dest):
		target = path.Join(dest, path.Base(it.name))
	}
	e, ok, err := p.fileEntry(target, it.resolved, it.fi)
	if err != nil || !ok {
		return err
	}
	p.put(e)
	return nil
}
