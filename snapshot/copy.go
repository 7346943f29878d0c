package snapshot

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/ctxio"
	"github.com/builderdev/builder/internal/mount"
	"github.com/builderdev/builder/internal/userns"
)

// copySnapshotter prepares roots as plain directory copies of the merged
// lowers, for where overlay mounts are not possible.
type copySnapshotter struct {
	workDir string
}

var _ Snapshotter = (*copySnapshotter)(nil)

// NewCopy returns the copy snapshotter working under workDir.
func NewCopy(workDir string) (Snapshotter, error) {
	if err := os.MkdirAll(workDir, 0o700); err != nil {
		return nil, fmt.Errorf("create work dir: %w", err)
	}
	return &copySnapshotter{workDir: workDir}, nil
}

func (c *copySnapshotter) Prepare(ctx context.Context, lowers []string) (Active, error) {
	dir, err := os.MkdirTemp(c.workDir, "cp-")
	if err != nil {
		return nil, fmt.Errorf("prepare copy: %w", err)
	}
	root := filepath.Join(dir, "root")
	a := &copyActive{dir: dir, root: root, lowers: append([]string(nil), lowers...)}
	if err := os.Mkdir(root, 0o755); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("prepare copy: %w", err)
	}
	for _, l := range lowers {
		if err := copyLayer(ctx, l, root, "."); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("prepare copy of %s: %w", l, err)
		}
	}
	return a, nil
}

type copyActive struct {
	dir, root string
	lowers    []string
}

var _ Active = (*copyActive)(nil)

func (a *copyActive) Mounts() []mount.Mount {
	return []mount.Mount{{Type: "bind", Source: a.root, Options: []string{"rbind", "rw"}}}
}

func (a *copyActive) Release(ctx context.Context) error {
	if err := os.RemoveAll(a.dir); err != nil {
		return fmt.Errorf("release copy: %w", err)
	}
	return nil
}

// CopyDir copies the overlay-form directory src over dst with all metadata:
// whiteouts remove, opaque directories replace, hard links inside src stay
// links. Several layers of one path are copied bottom first.
func CopyDir(ctx context.Context, src, dst string) error {
	return copyLayer(ctx, src, dst, ".")
}

// copyLayer copies the overlay-form layer src over dst at rel, honouring
// whiteouts and opaque directories, keeping hard links inside the layer.
func copyLayer(ctx context.Context, src, dst, rel string) error {
	links := map[uint64]string{}
	return copyDir(ctx, src, dst, rel, links)
}

func copyDir(ctx context.Context, src, dst, rel string, links map[uint64]string) error {
	ents, err := os.ReadDir(filepath.Join(src, rel))
	if err != nil {
		return err
	}
	for _, e := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := path.Join(rel, e.Name())
		s, t := filepath.Join(src, p), filepath.Join(dst, p)
		fi, err := e.Info()
		if err != nil {
			return err
		}
		if isWhiteout(fi) {
			if err := os.RemoveAll(t); err != nil {
				return err
			}
			continue
		}
		tfi, terr := os.Lstat(t)
		if fi.IsDir() {
			if terr == nil && (!tfi.IsDir() || isOpaque(s)) {
				if err := os.RemoveAll(t); err != nil {
					return err
				}
				terr = os.ErrNotExist
			}
			if terr != nil {
				if err := os.Mkdir(t, 0o700); err != nil {
					return err
				}
			}
			if err := copyDir(ctx, src, dst, p, links); err != nil {
				return err
			}
		} else {
			if terr == nil {
				if err := os.RemoveAll(t); err != nil {
					return err
				}
			}
			linked, err := copyNonDir(ctx, s, t, fi, links)
			if err != nil {
				return err
			}
			if linked {
				continue
			}
		}
		if err := copyMeta(s, t, fi); err != nil {
			return err
		}
	}
	return nil
}

// copyNonDir creates t like s; linked reports a hard link to an earlier copy.
func copyNonDir(ctx context.Context, s, t string, fi fs.FileInfo, links map[uint64]string) (bool, error) {
	st := fi.Sys().(*syscall.Stat_t)
	if st.Nlink > 1 {
		if first, ok := links[st.Ino]; ok {
			return true, os.Link(first, t)
		}
		links[st.Ino] = t
	}
	switch m := fi.Mode(); {
	case m.IsRegular():
		in, err := os.Open(s)
		if err != nil {
			return false, err
		}
		defer in.Close()
		out, err := os.OpenFile(t, os.O_WRONLY|os.O_CREATE|os.O_EXCL|noFollow, 0o600)
		if err != nil {
			return false, err
		}
		_, err = ctxio.Copy(ctx, out, in)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		return false, err
	case m&fs.ModeSymlink != 0:
		l, err := os.Readlink(s)
		if err != nil {
			return false, err
		}
		return false, os.Symlink(l, t)
	case m&(fs.ModeDevice|fs.ModeNamedPipe) != 0:
		return false, unix.Mknod(t, st.Mode&unix.S_IFMT|0o600, int(st.Rdev))
	default:
		return true, nil // sockets are not copied
	}
}

// copyMeta copies owner, xattrs, mode and times of s onto t.
func copyMeta(s, t string, fi fs.FileInfo) error {
	st := fi.Sys().(*syscall.Stat_t)
	if err := os.Lchown(t, int(st.Uid), int(st.Gid)); err != nil {
		// An id this user namespace does not map (no subordinate
		// range) cannot be given: the copy stays root's.
		if !errors.Is(err, unix.EINVAL) || !userns.Inside() {
			return err
		}
	}
	xs, err := listXattrs(s)
	if err != nil {
		return err
	}
	for k, v := range xs {
		if err := unix.Lsetxattr(t, k, []byte(v), 0); err != nil {
			return fmt.Errorf("set xattr %s on %s: %w", k, t, err)
		}
	}
	symlink := fi.Mode()&fs.ModeSymlink != 0
	if !symlink {
		if err := unix.Fchmodat(unix.AT_FDCWD, t, st.Mode&0o7777, 0); err != nil {
			return err
		}
	}
	ts := []unix.Timespec{unix.Timespec(st.Atim), unix.Timespec(st.Mtim)}
	return unix.UtimesNanoAt(unix.AT_FDCWD, t, ts, unix.AT_SYMLINK_NOFOLLOW)
}

// Diff compares the root with the merged lowers by metadata: type, mode,
// owner, size, mtime (nanoseconds), link target, device number and xattrs.
// Contents are not read: a file rewritten with the same size and the same
// mtime counts as unchanged. A directory's mtime is not compared (see
// sameAttrs): one changed only in its mtime is written only as the parent of
// a changed entry. Deleted entries become whiteouts; a directory
// emptied and recreated shows as whiteouts of what it held.
func (a *copyActive) Diff(ctx context.Context, w io.Writer) error {
	d := newDiffWriter(ctx, tar.NewWriter(w), a.root)
	if err := a.walk(d, NewView(a.lowers), ".", true); err != nil {
		return fmt.Errorf("diff copy: %w", err)
	}
	return d.close()
}

func (a *copyActive) walk(d *diffWriter, v *View, rel string, lowerDir bool) error {
	ents, err := os.ReadDir(filepath.Join(a.root, rel))
	if err != nil {
		return err
	}
	here := map[string]fs.DirEntry{}
	var names []string
	for _, e := range ents {
		here[e.Name()] = e
		names = append(names, e.Name())
	}
	lower := map[string]bool{}
	if lowerDir {
		les, err := v.ReadDir(rel)
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		for _, e := range les {
			lower[e.Name()] = true
			if here[e.Name()] == nil {
				names = append(names, e.Name())
			}
		}
	}
	sort.Strings(names)
	for _, n := range names {
		p := path.Join(rel, n)
		e := here[n]
		if e == nil {
			if err := d.whiteout(p); err != nil {
				return err
			}
			continue
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		kind, lowerIsDir := changeAdd, false
		if lower[n] {
			lfi, err := v.Lstat(p)
			if err != nil {
				return err
			}
			lowerIsDir = lfi.IsDir()
			kind = changeModify
			same, err := sameEntry(filepath.Join(a.root, p), fi, v, p, lfi)
			if err != nil {
				return err
			}
			if same {
				kind = changeUnmodified
			}
		}
		if _, err := d.change(kind, p, fi); err != nil {
			return err
		}
		if fi.IsDir() {
			if err := a.walk(d, v, p, lowerIsDir); err != nil {
				return err
			}
		}
	}
	return nil
}

// sameEntry reports whether the root entry and the lower entry match in
// everything a layer records (sameAttrs; for non-directories also the mtime
// to the nanosecond and the symlink target).
func sameEntry(rp string, fi fs.FileInfo, v *View, name string, lfi fs.FileInfo) (bool, error) {
	_, lp, err := v.realPathInfo(name)
	if err != nil {
		return false, err
	}
	same, err := sameAttrs(rp, fi, lp, lfi)
	if err != nil || !same || fi.IsDir() {
		return same, err
	}
	if fi.Sys().(*syscall.Stat_t).Mtim != lfi.Sys().(*syscall.Stat_t).Mtim {
		return false, nil
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		l1, err := os.Readlink(rp)
		if err != nil {
			return false, err
		}
		l2, err := os.Readlink(lp)
		if err != nil {
			return false, err
		}
		return l1 == l2, nil
	}
	return true, nil
}
