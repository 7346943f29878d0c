package snapshot

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/builderdev/builder/internal/fsroot"
)

// View is a read-only merged view over extracted layer directories in
// overlay-native form (or their indexes, NewLazyView), resolved like overlayfs would: upper entries hide
// lower ones, whiteouts hide, opaque directories stop the merge, and only
// directories merge. Names are unrooted slash paths, "." is the root.
//
// A view remembers the directories it has looked up (which layers merge
// into each), so that a walk costs one lstat per entry and layer that may
// hold it, not one per path component: the lowers must not change while
// the view is in use, as extracted layers never do. Safe for concurrent
// use.
type View struct {
	lowers []*lower // bottom first

	mu   sync.Mutex
	dirs map[string]*viewDir // clean name → the merged directory
}

// viewDir is a directory of the view: the layers (top first) whose
// directories merge into it, and the top one's info.
type viewDir struct {
	layers []int
	fi     fs.FileInfo
}

// NewView returns the view over lowers (bottom first).
func NewView(lowers []string) *View {
	v := &View{lowers: make([]*lower, len(lowers)), dirs: map[string]*viewDir{}}
	for i, d := range lowers {
		v.lowers[i] = &lower{dir: d}
	}
	return v
}

// Lower is one layer of a lazy view: its extracted directory, or its
// Index and Extract, which extracts it and returns the directory.
type Lower struct {
	Dir     string
	Index   *Index
	Extract func() (string, error)
}

// NewLazyView returns the view over lowers (bottom first). Names are
// looked up, directories listed and symlinks read in the index of a layer
// that has no directory; the first read of one of its files' content or
// real path extracts it.
func NewLazyView(lowers []Lower) *View {
	v := &View{lowers: make([]*lower, len(lowers)), dirs: map[string]*viewDir{}}
	for i, l := range lowers {
		v.lowers[i] = &lower{dir: l.Dir, index: l.Index, extract: l.Extract}
		if l.Dir != "" {
			v.lowers[i].index = nil
		}
	}
	return v
}

// lower is a layer of a view.
type lower struct {
	dir     string // "" while only index is there
	index   *Index
	extract func() (string, error)
	once    sync.Once
	err     error
}

// path returns the path on disk of clean in the layer, extracting it if
// it is only indexed.
func (l *lower) path(clean string) (string, error) {
	if l.index != nil {
		l.once.Do(func() {
			dir, err := l.extract()
			if err != nil {
				l.err = fmt.Errorf("extract layer: %w", err)
				return
			}
			l.dir = dir
		})
		if l.err != nil {
			return "", l.err
		}
	}
	return filepath.Join(l.dir, clean), nil
}

func (l *lower) lstat(clean string) (fs.FileInfo, error) {
	if l.index != nil {
		return l.index.lstat(clean)
	}
	return os.Lstat(filepath.Join(l.dir, clean))
}

func (l *lower) readDir(clean string) ([]fs.DirEntry, error) {
	if l.index != nil {
		return l.index.readDir(clean)
	}
	return os.ReadDir(filepath.Join(l.dir, clean))
}

func (l *lower) opaque(clean string) bool {
	if l.index != nil {
		return l.index.opaque(clean)
	}
	return isOpaque(filepath.Join(l.dir, clean))
}

func (l *lower) readlink(clean string) (string, error) {
	if l.index != nil {
		return l.index.readlink(clean)
	}
	return os.Readlink(filepath.Join(l.dir, clean))
}

// Immutable reports that no file of the view changes after it is read:
// its lowers are extracted layers. A stat cache may then remember a sum
// even for a file whose timestamps are younger than the clock's tick.
func (v *View) Immutable() bool { return true }

// find returns the layers (top first) whose entry makes up name: one for a
// non-directory, all merged ones for a directory, and the top entry's info.
func (v *View) find(op, name string) ([]int, fs.FileInfo, error) {
	clean, ok := cleanName(name)
	if !ok || !fs.ValidPath(clean) {
		return nil, nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	layers, fi, err := v.lookup(clean)
	if err != nil {
		return nil, nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return layers, fi, nil
}

// lookup is find for a clean name.
func (v *View) lookup(clean string) ([]int, fs.FileInfo, error) {
	v.mu.Lock()
	d, ok := v.dirs[clean]
	v.mu.Unlock()
	if ok {
		return d.layers, d.fi, nil
	}
	var layers []int
	var top fs.FileInfo
	if clean == "." {
		for i := len(v.lowers) - 1; i >= 0; i-- {
			layers = append(layers, i)
		}
		if len(layers) == 0 {
			return nil, nil, fs.ErrNotExist
		}
		fi, err := v.lowers[layers[0]].lstat(".")
		if err != nil {
			return nil, nil, err
		}
		top = fi
	} else {
		parent, base := path.Split(clean)
		parent = strings.TrimSuffix(parent, "/")
		if parent == "" {
			parent = "."
		}
		pl, pfi, err := v.lookup(parent)
		if err != nil {
			return nil, nil, err
		}
		if !pfi.IsDir() {
			return nil, nil, fs.ErrNotExist
		}
		for _, i := range pl {
			fi, err := v.lowers[i].lstat(path.Join(parent, base))
			if err != nil {
				continue // absent here (or a non-directory on the way)
			}
			if isWhiteout(fi) {
				break
			}
			if top == nil {
				top = fi
			}
			if !fi.IsDir() {
				if len(layers) == 0 {
					layers = append(layers, i)
				}
				break
			}
			layers = append(layers, i)
		}
		if top == nil {
			return nil, nil, fs.ErrNotExist
		}
		if !top.IsDir() {
			return layers, top, nil
		}
	}
	// An opaque directory hides the lower ones: only a directory that
	// merges with one below needs the (xattr) check.
	for k, i := range layers[:len(layers)-1] {
		if v.lowers[i].opaque(clean) {
			layers = layers[:k+1]
			break
		}
	}
	v.mu.Lock()
	v.dirs[clean] = &viewDir{layers: layers, fi: top}
	v.mu.Unlock()
	return layers, top, nil
}

// realPath returns the real path of name's top entry (its layer
// extracted).
func (v *View) realPath(op, name string) (string, fs.FileInfo, error) {
	layers, fi, err := v.find(op, name)
	if err != nil {
		return "", nil, err
	}
	clean, _ := cleanName(name)
	p, err := v.lowers[layers[0]].path(clean)
	if err != nil {
		return "", nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	return p, fi, nil
}

// Lstat returns the info of name without following a final symlink; Sys()
// is the *syscall.Stat_t of the entry on disk (of an indexed layer: without
// device and inode numbers).
func (v *View) Lstat(name string) (fs.FileInfo, error) {
	_, fi, err := v.find("lstat", name)
	return fi, err
}

// ReadDir returns the merged entries of the directory name, sorted by name.
func (v *View) ReadDir(name string) ([]fs.DirEntry, error) {
	layers, fi, err := v.find("readdir", name)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fmt.Errorf("not a directory")}
	}
	clean, _ := cleanName(name)
	seen := map[string]bool{}
	var out []fs.DirEntry
	for _, i := range layers {
		ents, err := v.lowers[i].readDir(clean)
		if err != nil {
			return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
		}
		for _, e := range ents {
			if seen[e.Name()] {
				continue
			}
			seen[e.Name()] = true
			if e.Type()&fs.ModeCharDevice == 0 {
				out = append(out, e) // not a whiteout: Info lstats when asked
				continue
			}
			info, err := e.Info()
			if err != nil {
				return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
			}
			if isWhiteout(info) {
				continue
			}
			out = append(out, fs.FileInfoToDirEntry(info))
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name() < out[b].Name() })
	return out, nil
}

// Open opens the regular file name for reading, following symlinks inside
// the view.
func (v *View) Open(name string) (io.ReadCloser, error) {
	resolved, err := v.Resolve(name)
	if err != nil {
		return nil, err
	}
	p, fi, err := v.realPath("open", resolved)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("not a regular file")}
	}
	f, err := os.OpenFile(p, os.O_RDONLY|noFollow, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return f, nil
}

// Readlink returns the target of the symlink name.
func (v *View) Readlink(name string) (string, error) {
	layers, fi, err := v.find("readlink", name)
	if err != nil {
		return "", err
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: fs.ErrInvalid}
	}
	clean, _ := cleanName(name)
	t, err := v.lowers[layers[0]].readlink(clean)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: err}
	}
	return t, nil
}

// Resolve follows symlinks in name inside the view (absolute targets are
// relative to its root, ".." stops at the root; fsroot.MaxLinks at most)
// and returns the resulting unrooted slash path. Components that do not
// exist are kept as they are, so a destination that is yet to be created
// resolves too.
func (v *View) Resolve(name string) (string, error) {
	clean, ok := cleanName(name)
	if !ok {
		return "", &fs.PathError{Op: "resolve", Path: name, Err: fs.ErrInvalid}
	}
	r, err := fsroot.Resolve(v, clean)
	if err != nil {
		return "", &fs.PathError{Op: "resolve", Path: name, Err: err}
	}
	return r, nil
}

// RealPath returns the path on disk of name's top entry, the file a read
// of name reads (name's directories are not symlinks).
func (v *View) RealPath(name string) (string, error) {
	p, _, err := v.realPath("lstat", name)
	return p, err
}

// realPathInfo returns name's info and the real path of its top entry.
func (v *View) realPathInfo(name string) (fs.FileInfo, string, error) {
	p, fi, err := v.realPath("lstat", name)
	return fi, p, err
}
