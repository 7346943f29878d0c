package filecopy

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/builderdev/builder/internal/fsroot"
)

// relName cleans p into an unrooted name inside the root; "" is the root.
// ".." can never climb above the root.
func relName(p string) string {
	return strings.TrimPrefix(path.Clean("/"+p), "/")
}

// fsName turns a relative name into the form FS methods take.
func fsName(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}

// resolveIn resolves the symlinks of name inside fsys as if fsys's root were
// "/" (like a chroot, fsroot.Resolve): absolute link targets restart at the
// root and ".." stops there. The final component is followed only when
// followFinal is set. Components that do not exist are kept as they are. The
// result is relative ("" for the root).
func resolveIn(fsys fsroot.FS, name string, followFinal bool) (string, error) {
	rel := relName(name)
	if fsys == nil || rel == "" {
		return rel, nil
	}
	var opts []fsroot.ResolveOption
	if !followFinal {
		opts = append(opts, fsroot.NoFollowFinal())
	}
	r, err := fsroot.Resolve(fsys, rel, opts...)
	if err != nil {
		return "", err
	}
	return relName(r), nil
}

// hasWildcard reports whether p holds path.Match meta characters.
func hasWildcard(p string) bool {
	for i := 0; i < len(p); i++ {
		switch p[i] {
		case '*', '?', '[':
			return true
		case '\\':
			i++
		}
	}
	return false
}

// expandWildcards returns the names in fsys matching the cleaned pattern p,
// one path.Match per component, in lexical walk order. Symlinked directories
// on the way are followed (inside fsys). Names are as matched (unresolved).
// With doublestar (COPY --parents, patternmatcher style), a "**" component
// matches zero or more directory levels.
func expandWildcards(fsys FS, p string, doublestar bool) ([]string, error) {
	comps := strings.Split(relName(p), "/")
	cur := []string{""}
	for i, c := range comps {
		var next []string
		if doublestar && c == "**" {
			seen := map[string]bool{}
			for _, base := range cur {
				if err := descendants(fsys, base, i == len(comps)-1, seen, &next); err != nil {
					return nil, err
				}
			}
			cur = next
			continue
		}
		for _, base := range cur {
			if !hasWildcard(c) {
				// a match that is not a directory cannot hold a further
				// component: skip it, as BuildKit does
				if base != "" && !isDirIn(fsys, base) {
					continue
				}
				next = append(next, path.Join(base, unescape(c)))
				continue
			}
			if _, err := path.Match(c, ""); err != nil {
				return nil, fmt.Errorf("bad wildcard pattern %q: %w", p, err)
			}
			dir, err := resolveIn(fsys, base, true)
			if err != nil {
				return nil, err
			}
			fi, err := fsys.Lstat(fsName(dir))
			if err != nil || !fi.IsDir() {
				continue
			}
			ents, err := fsys.ReadDir(fsName(dir))
			if err != nil {
				return nil, fmt.Errorf("read dir %s: %w", fsName(dir), err)
			}
			for _, e := range ents {
				if ok, _ := path.Match(c, e.Name()); ok {
					next = append(next, path.Join(base, e.Name()))
				}
			}
		}
		cur = next
	}
	var out []string
	for _, n := range cur {
		r, err := resolveIn(fsys, n, true)
		if err != nil {
			return nil, err
		}
		if _, err := fsys.Lstat(fsName(r)); err == nil {
			out = append(out, n)
		}
	}
	return out, nil
}

// descendants appends base (when it is a directory) and, in walk order, every
// directory below it, or every file too when files is set, skipping names
// already seen. Symlinks below base are not followed.
func descendants(fsys FS, base string, files bool, seen map[string]bool, out *[]string) error {
	if !isDirIn(fsys, base) {
		return nil
	}
	if !seen[base] {
		seen[base] = true
		*out = append(*out, base)
	}
	dir, err := resolveIn(fsys, base, true)
	if err != nil {
		return err
	}
	ents, err := fsys.ReadDir(fsName(dir))
	if err != nil {
		return fmt.Errorf("read dir %s: %w", fsName(dir), err)
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	for _, e := range ents {
		name := path.Join(base, e.Name())
		if e.IsDir() {
			if err := descendants(fsys, name, files, seen, out); err != nil {
				return err
			}
		} else if files && !seen[name] {
			seen[name] = true
			*out = append(*out, name)
		}
	}
	return nil
}

// isDirIn reports whether name, its symlinks followed inside fsys, is a
// directory.
func isDirIn(fsys FS, name string) bool {
	r, err := resolveIn(fsys, name, true)
	if err != nil {
		return false
	}
	fi, err := fsys.Lstat(fsName(r))
	return err == nil && fi.IsDir()
}

// unescape removes path.Match backslash escapes from a literal component.
func unescape(c string) string {
	if !strings.Contains(c, `\`) {
		return c
	}
	var b strings.Builder
	for i := 0; i < len(c); i++ {
		if c[i] == '\\' && i+1 < len(c) {
			i++
		}
		b.WriteByte(c[i])
	}
	return b.String()
}
