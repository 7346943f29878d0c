package filecopy

import (
	"archive/tar"
	"io/fs"
	"path"
)

// plannedFS is the destination root as the step leaves it so far: the
// planned entries over the Dest view. It is what names written into the
// destination are resolved against (fsroot semantics, through resolveIn).
type plannedFS struct{ p *plan }

func (f plannedFS) Lstat(name string) (fs.FileInfo, error) {
	n := relName(name)
	if e, ok := f.p.entries[n]; ok {
		return e.hdr.FileInfo(), nil
	}
	// a planned non-directory hides what Dest holds below it
	for d := parentOf(n); d != ""; d = parentOf(d) {
		if e, ok := f.p.entries[d]; ok {
			if e.hdr.Typeflag != tar.TypeDir {
				return nil, &fs.PathError{Op: "lstat", Path: name, Err: fs.ErrNotExist}
			}
			break
		}
	}
	if f.p.req.Dest == nil {
		if n == "" {
			return (&tar.Header{Typeflag: tar.TypeDir, Mode: 0o755}).FileInfo(), nil
		}
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: fs.ErrNotExist}
	}
	return f.p.req.Dest.Lstat(fsName(n))
}

func (f plannedFS) Readlink(name string) (string, error) {
	n := relName(name)
	if e, ok := f.p.entries[n]; ok {
		if e.hdr.Typeflag != tar.TypeSymlink {
			return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
		}
		return e.hdr.Linkname, nil
	}
	if f.p.req.Dest == nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrNotExist}
	}
	return f.p.req.Dest.Readlink(fsName(n))
}

// inDest resolves the directories of name (a relative destination path)
// through the symlinks of the planned result, inside the root, and keeps its
// last component: an entry written below a link to a directory lands in that
// directory, as BuildKit's extraction does, and one that names a link
// replaces it. Resolved directories are remembered until an entry that
// could change them (a symlink or a directory) is put.
func (p *plan) inDest(name string) (string, error) {
	if name == "" {
		return "", nil
	}
	dir, base := parentOf(name), path.Base(name)
	if dir == "" {
		return name, nil
	}
	r, ok := p.resolved[dir]
	if !ok {
		var err error
		if r, err = resolveIn(plannedFS{p}, dir, true); err != nil {
			return "", err
		}
		if p.resolved == nil {
			p.resolved = map[string]string{}
		}
		p.resolved[dir] = r
	}
	return path.Join(r, base), nil
}
