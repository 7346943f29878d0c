package filecopy

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/builderdev/builder/internal/layer"
)

// parentDirs writes, for --parents, the source's directories between the
// pivot and the item (the item itself too when it is a directory) with the
// source's metadata.
func (p *plan) parentDirs(it item, dest string, inclusive bool) error {
	comps := strings.Split(it.parent, "/")
	if !inclusive {
		comps = comps[:len(comps)-1]
	}
	base := strings.TrimSuffix(strings.TrimSuffix(it.name, it.parent), "/")
	cur := ""
	for _, c := range comps {
		cur = path.Join(cur, c)
		r, err := resolveIn(p.req.Src, path.Join(base, cur), true)
		if err != nil {
			return err
		}
		fi, err := p.req.Src.Lstat(fsName(r))
		if err != nil {
			return fmt.Errorf("lstat %s: %w", r, err)
		}
		hdr, _ := layer.TarHeader(fi)
		p.setOwner(&hdr)
		p.applyChmod(&hdr)
		p.put(&entry{name: path.Join(dest, cur), hdr: hdr})
	}
	return nil
}

// walk copies the contents of the source directory srcDir into dstDir and
// returns how many entries it wrote. rel is the path relative to the
// selected source, which --exclude patterns are matched against.
func (p *plan) walk(ctx context.Context, srcDir, dstDir, rel string) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	fsys := p.req.Src
	ents, err := fsys.ReadDir(fsName(srcDir))
	if err != nil {
		return 0, fmt.Errorf("read dir %s: %w", fsName(srcDir), err)
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	n := 0
	for _, de := range ents {
		childSrc := path.Join(srcDir, de.Name())
		childRel := path.Join(rel, de.Name())
		target := path.Join(dstDir, de.Name())
		// The entry's lstat, taken by ReadDir (one fstatat in the open
		// directory), not a second lookup of the path.
		fi, err := de.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return n, fmt.Errorf("lstat %s: %w", childSrc, err)
		}
		excluded := false
		if p.excl != nil {
			if excluded, err = p.excl.MatchesOrParentMatches(childRel); err != nil {
				return n, fmt.Errorf("match exclude patterns: %w", err)
			}
			if excluded && (!fi.IsDir() || !p.excl.Exclusions()) {
				continue
			}
		}
		if fi.IsDir() {
			if p.existsNonDir(target) {
				return n, fmt.Errorf("%s failed: cannot copy to non-directory: /%s", p.verb(), target)
			}
			hdr, _ := layer.TarHeader(fi)
			p.setOwner(&hdr)
			p.applyChmod(&hdr)
			p.put(&entry{name: target, hdr: hdr})
			c, err := p.walk(ctx, childSrc, target, childRel)
			if err != nil {
				return n, err
			}
			if excluded && c == 0 {
				delete(p.entries, target)
				continue
			}
			n += c + 1
			continue
		}
		e, ok, err := p.fileEntry(target, childSrc, fi)
		if err != nil {
			return n, err
		}
		if ok {
			p.put(e)
			n++
		}
	}
	return n, nil
}

func (p *plan) addHeredoc(h Heredoc, dest string) {
	target := dest
	if p.isDir(dest) {
		target = path.Join(dest, relName(h.Name))
	}
	data := h.Data
	hdr := tar.Header{Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(data)), ModTime: p.mtime, Format: tar.FormatPAX}
	p.setOwner(&hdr)
	p.applyChmod(&hdr)
	p.put(&entry{name: target, hdr: hdr, open: func() (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(data)), nil
	}})
}

// sorted returns every entry in walk order, the missing parent directories
// added (from the Dest view when they exist there), hard links resolved.
func (p *plan) sorted() []*entry {
	for name := range p.entries {
		for d := parentOf(name); d != ""; d = parentOf(d) {
			if _, ok := p.entries[d]; ok {
				break // d is an entry: its own turn adds its parents
			}
			hdr := tar.Header{Typeflag: tar.TypeDir, Mode: 0o755, Format: tar.FormatPAX}
			if p.req.Dest != nil {
				if fi, err := p.req.Dest.Lstat(d); err == nil && fi.IsDir() {
					hdr, _ = layer.TarHeader(fi)
				}
			}
			hdr.ModTime = p.mtime
			p.entries[d] = &entry{name: d, hdr: hdr}
		}
	}
	delete(p.entries, "")
	// Sorted by lessPath, with each walkKey made once per entry.
	keyed := make([]keyedEntry, 0, len(p.entries))
	for _, e := range p.entries {
		keyed = append(keyed, keyedEntry{walkKey(e.name), e})
	}
	slices.SortFunc(keyed, func(a, b keyedEntry) int { return strings.Compare(a.key, b.key) })
	out := make([]*entry, len(keyed))
	for i, k := range keyed {
		out[i] = k.e
	}
	type linkKey struct {
		group int
		id    fileID
	}
	first := map[linkKey]string{}
	for _, e := range out {
		if !e.linked || e.hdr.Typeflag != tar.TypeReg {
			continue
		}
		k := linkKey{e.group, e.id}
		if f, ok := first[k]; ok {
			e.hardTo = f
			continue
		}
		first[k] = e.name
	}
	return out
}
