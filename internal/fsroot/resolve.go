package fsroot

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// MaxLinks is how many symlinks one resolution follows, as the kernel's
// MAXSYMLINKS; one more fails with ELOOP.
const MaxLinks = 40

// FS is what Resolve walks: unrooted slash names ("." is the root). A name
// that does not exist is reported with an error wrapping fs.ErrNotExist.
type FS interface {
	Lstat(name string) (fs.FileInfo, error)
	Readlink(name string) (string, error)
}

// ResolveOption changes how Resolve walks.
type ResolveOption func(*resolveConfig)

type resolveConfig struct {
	noFollowFinal bool
	onMissing     func(name string, last bool) error
}

// NoFollowFinal keeps a final symlink as it is instead of following it.
func NoFollowFinal() ResolveOption {
	return func(c *resolveConfig) { c.noFollowFinal = true }
}

// OnMissing makes Resolve call create for each missing component (its
// resolved name, and whether it is the last component) instead of keeping
// the rest of the name as it is; create makes it (or reports an error), and
// the walk looks at it again.
func OnMissing(create func(name string, last bool) error) ResolveOption {
	return func(c *resolveConfig) { c.onMissing = create }
}

// Resolve follows the symlinks of name inside fsys as if its root were "/"
// and returns the resulting clean unrooted slash name ("." for the root).
// name is taken as it is: callers that want Dockerfile semantics clean it
// first. Without OnMissing, once a component does not exist the rest of name
// is joined to it lexically (".." never above the root), so a destination
// that is yet to be created resolves too.
func Resolve(fsys FS, name string, opts ...ResolveOption) (string, error) {
	var cfg resolveConfig
	for _, o := range opts {
		o(&cfg)
	}
	rest := strings.Split(name, "/")
	cur := "."
	links := 0
	created := ""
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		last := onlyEmpty(rest)
		fi, err := fsys.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) {
			if cfg.onMissing == nil {
				return lexical(append([]string{next}, rest...)), nil
			}
			if created == next {
				return "", fmt.Errorf("resolve %s: %s vanished after it was created: %w", name, next, err)
			}
			if err := cfg.onMissing(next, last); err != nil {
				return "", err
			}
			created = next
			rest = append([]string{c}, rest...) // look again
			continue
		}
		if err != nil {
			return "", fmt.Errorf("lstat %s: %w", next, err)
		}
		if fi.Mode()&fs.ModeSymlink == 0 || (len(rest) == 0 && cfg.noFollowFinal) {
			cur = next
			continue
		}
		if links++; links > MaxLinks {
			return "", fmt.Errorf("resolve %s: %w", name, unix.ELOOP)
		}
		target, err := fsys.Readlink(next)
		if err != nil {
			return "", fmt.Errorf("read link %s: %w", next, err)
		}
		if strings.HasPrefix(target, "/") {
			cur = "."
		}
		rest = append(strings.Split(target, "/"), rest...)
	}
	return cur, nil
}

// onlyEmpty reports whether comps hold no further name (only "" or ".").
func onlyEmpty(comps []string) bool {
	for _, c := range comps {
		if c != "" && c != "." {
			return false
		}
	}
	return true
}

// lexical joins comps and cleans them inside the root.
func lexical(comps []string) string {
	c := strings.TrimPrefix(path.Clean("/"+strings.Join(comps, "/")), "/")
	if c == "" {
		return "."
	}
	return c
}
