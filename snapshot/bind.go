package snapshot

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/builderdev/builder/internal/mount"
)

// ErrFileReadWrite is returned by BindMount for a read-write mount of a
// single file (an overlay needs a directory).
var ErrFileReadWrite = errors.New("read-write mounts of single files are not supported")

// Lowers returns the directories that make up name (a path resolved in the
// View of dirs) in a stack of extracted layer dirs, bottom first as NewView
// takes them. The result is top first: one path for a file; for a
// directory, every layer's copy of it down to an opaque or replacing one.
// It is what a bind mount of a path of a stage or an image mounts.
func Lowers(dirs []string, name string) ([]string, error) {
	var out []string
	for i := len(dirs) - 1; i >= 0; i-- {
		p := filepath.Join(dirs[i], filepath.FromSlash(name))
		fi, err := os.Lstat(p)
		if err != nil {
			continue
		}
		if isWhiteout(fi) {
			break
		}
		if !fi.IsDir() {
			if len(out) == 0 {
				return []string{p}, nil
			}
			break
		}
		out = append(out, p)
		if isOpaque(p) {
			break
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: %w", name, os.ErrNotExist)
	}
	return out, nil
}

// BindMount mounts lowers (top first, as Lowers returns them) at target:
// a read-only bind when there is one and readOnly is set, else an overlay
// of them, read-only or with its writes going to a throwaway upper
// directory under work (created here; the caller removes work).
func BindMount(lowers []string, target, work string, readOnly bool) (mount.Mount, error) {
	if len(lowers) == 0 {
		return mount.Mount{}, errors.New("bind mount: no source directory")
	}
	if readOnly && len(lowers) == 1 {
		return mount.Mount{Type: "bind", Source: lowers[0], Target: target, Options: []string{"rbind", "ro"}}, nil
	}
	if fi, err := os.Stat(lowers[0]); err == nil && !fi.IsDir() {
		return mount.Mount{}, ErrFileReadWrite
	}
	opts := []string{"lowerdir=" + strings.Join(lowers, ":")}
	if readOnly {
		opts = append(opts, "ro")
	} else {
		upper, wd := filepath.Join(work, "upper"), filepath.Join(work, "work")
		for _, d := range []string{upper, wd} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return mount.Mount{}, fmt.Errorf("create overlay dir: %w", err)
			}
		}
		opts = append(opts, "upperdir="+upper, "workdir="+wd)
	}
	return mount.Mount{Type: "overlay", Source: "overlay", Target: target, Options: opts}, nil
}
