package solver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/fsroot"
	"github.com/builderdev/builder/internal/mount"
	"github.com/builderdev/builder/snapshot"
)

// Where an executor cannot mount (the chroot level), RUN --mount content
// is placed at its target inside the step's root before the step and taken
// out after it, so that the layer is the one a real mount gives:
//
//   - whatever is at the target (the image's own entry, or a mount point
//     made for the step) is renamed aside and renamed back afterwards;
//   - a cache directory is renamed in and renamed back to the store: never
//     copied, so what the step wrote is what the next build finds;
//   - a tmpfs is a fresh empty directory, removed afterwards;
//   - a bind of a directory or file of the context, a stage or an image is
//     a copy, removed afterwards. Not a hard-link farm: hard links share
//     the inode, so a step (root, with CAP_DAC_OVERRIDE and CAP_FOWNER)
//     that writes into, truncates, chmods or chowns a file would change the
//     source, which is an extracted layer every build shares or the user's
//     context. Files of our own (secrets, heredoc scripts) are moved;
//   - the mount points created for the step are removed afterwards and the
//     times of their parents restored, as the namespace level does.
//
// All renames stay within the store's file system; a cache on another
// file system is an error, not a copy.

// placedMount is one mount placed into a root.
type placedMount struct {
	m       mount.Mount
	host    string // the target's host path inside the root
	stashed string // where the original entry at host waits ("" if none)
	back    string // where a cache directory goes back to ("" if not a cache)
	mode    os.FileMode
	parent  string
	ptimes  [2]time.Time // parent's times before the placement
	htimes  [2]time.Time // the original entry's times
}

// placement is the mounts placed into one root, and what undoes them.
type placement struct {
	root   string
	work   string // a directory of ours on the root's file system
	placed []*placedMount
	stubs  []placeStub
}

// placeStub is a mount point created in the root for a step.
type placeStub struct {
	path, parent string
	times        [2]time.Time
}

// placeMounts puts every mount's content at its target in root. ownDir is
// the run's own temp dir: sources inside it are moved, not copied. caches
// are the cache mount directories among the sources. The returned
// placement must be undone (also when err != nil).
func placeMounts(ctx context.Context, root, ownDir string, mounts []mount.Mount, caches map[string]bool) (*placement, error) {
	work, err := os.MkdirTemp(ownDir, "place-")
	if err != nil {
		return nil, fmt.Errorf("place mounts: %w", err)
	}
	p := &placement{root: root, work: work}
	for i, m := range mounts {
		if err := ctx.Err(); err != nil {
			return p, err
		}
		if err := p.place(ctx, i, m, ownDir, caches[m.Source]); err != nil {
			return p, fmt.Errorf("mount %s: %w", m.Target, err)
		}
	}
	return p, nil
}

func (p *placement) place(ctx context.Context, i int, m mount.Mount, ownDir string, isCache bool) error {
	content := filepath.Join(p.work, fmt.Sprintf("c%d", i))
	isDir := true
	switch {
	case m.Type == "tmpfs":
		if err := os.Mkdir(content, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(content, 0o1777); err != nil {
			return err
		}
	case isCache:
		content = m.Source
	case m.Type == "overlay":
		if err := copyLowers(ctx, overlayLowers(m.Options), content); err != nil {
			return err
		}
	case m.Type == "bind":
		fi, err := os.Stat(m.Source)
		if err != nil {
			return err
		}
		isDir = fi.IsDir()
		switch {
		case strings.HasPrefix(m.Source, ownDir+string(filepath.Separator)):
			content = m.Source // ours: moved in, removed after
		case isDir:
			if err := copyLowers(ctx, []string{m.Source}, content); err != nil {
				return err
			}
		default:
			if err := copyFile(m.Source, content, fi); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("mount type %q cannot be placed", m.Type)
	}
	host, err := p.ensure(m.Target, isDir)
	if err != nil {
		return err
	}
	pm := &placedMount{m: m, host: host, parent: filepath.Dir(host)}
	if isCache {
		pm.back = m.Source
		if fi, err := os.Stat(m.Source); err == nil {
			pm.mode = fi.Mode()
		}
	}
	if pm.ptimes, err = times(pm.parent); err != nil {
		return err
	}
	if pm.htimes, err = times(host); err != nil {
		return err
	}
	pm.stashed = filepath.Join(p.work, fmt.Sprintf("s%d", i))
	if err := os.Rename(host, pm.stashed); err != nil {
		return fmt.Errorf("set aside %s: %w", m.Target, err)
	}
	if err := os.Rename(content, host); err != nil {
		_ = os.Rename(pm.stashed, host)
		if errors.Is(err, unix.EXDEV) {
			return fmt.Errorf("%s is on another file system than the step's root: the chroot isolation level moves a mount's content in by rename (a cache is never copied): %w", m.Source, err)
		}
		return fmt.Errorf("place %s: %w", m.Target, err)
	}
	p.placed = append(p.placed, pm)
	// The step sees its parent as it was.
	return setTimes(pm.parent, pm.ptimes)
}

// undo takes every placed mount out again, newest first, and removes the
// mount points it made. It runs after the step's processes are gone.
func (p *placement) undo() error {
	if p == nil {
		return nil
	}
	var errs []error
	for i := len(p.placed) - 1; i >= 0; i-- {
		if err := p.unplace(p.placed[i]); err != nil {
			errs = append(errs, fmt.Errorf("mount %s: %w", p.placed[i].m.Target, err))
		}
	}
	p.placed = nil
	for i := len(p.stubs) - 1; i >= 0; i-- {
		s := p.stubs[i]
		if err := os.Remove(s.path); err != nil {
			if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST) {
				continue // the step put files there: keep it, and its time
			}
			errs = append(errs, fmt.Errorf("remove mount point %s: %w", s.path, err))
			continue
		}
		if err := setTimes(s.parent, s.times); err != nil {
			errs = append(errs, err)
		}
	}
	p.stubs = nil
	if err := os.RemoveAll(p.work); err != nil {
		errs = append(errs, fmt.Errorf("remove placement dir: %w", err))
	}
	return errors.Join(errs...)
}

func (p *placement) unplace(pm *placedMount) error {
	after, err := times(pm.parent)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	fi, lerr := os.Lstat(pm.host)
	switch {
	case pm.back != "" && lerr == nil && fi.IsDir():
		if err := os.Rename(pm.host, pm.back); err != nil {
			return fmt.Errorf("put cache back: %w", err)
		}
	case pm.back != "":
		// The step removed or replaced the cache itself: it is empty now,
		// as after an rm -rf of a mounted one.
		if err := os.RemoveAll(pm.host); err != nil {
			return err
		}
		if err := os.Mkdir(pm.back, pm.mode.Perm()); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("recreate cache: %w", err)
		}
	default:
		if err := os.RemoveAll(pm.host); err != nil {
			return fmt.Errorf("remove placed content: %w", err)
		}
	}
	if err := os.Rename(pm.stashed, pm.host); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			// The step removed the directory that held the target (a
			// real mount would have kept the mount point busy there):
			// the layer records that removal.
			return nil
		}
		return fmt.Errorf("restore %s: %w", pm.m.Target, err)
	}
	if err := setTimes(pm.host, pm.htimes); err != nil {
		return err
	}
	if after[1].IsZero() {
		return nil
	}
	return setTimes(pm.parent, after)
}

// ensure resolves target inside the root (symlinks stay inside it, as
// fsroot resolves them), creating missing components as mount points the
// way the namespace level does, and returns the host path.
func (p *placement) ensure(target string, dir bool) (string, error) {
	r, err := fsroot.Open(p.root)
	if err != nil {
		return "", err
	}
	defer r.Close()
	clean := strings.Trim(path.Clean("/"+target), "/")
	if clean == "" {
		return "", errors.New("cannot place a mount at /")
	}
	resolved, err := fsroot.Resolve(r, clean, fsroot.OnMissing(func(next string, last bool) error {
		host := filepath.Join(p.root, next)
		t, err := times(filepath.Dir(host))
		if err != nil {
			return err
		}
		if last && !dir {
			f, err := os.OpenFile(host, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
		} else if err := os.Mkdir(host, 0o755); err != nil {
			return err
		}
		p.stubs = append(p.stubs, placeStub{path: host, parent: filepath.Dir(host), times: t})
		return nil
	}))
	if err != nil {
		return "", fmt.Errorf("resolve %s: %w", target, err)
	}
	if resolved == "" || resolved == "." {
		return "", errors.New("cannot place a mount at /")
	}
	return filepath.Join(p.root, resolved), nil
}

// overlayLowers returns the lowerdir list of overlay options, top first.
func overlayLowers(opts []string) []string {
	for _, o := range opts {
		if v, ok := strings.CutPrefix(o, "lowerdir="); ok {
			return strings.Split(v, ":")
		}
	}
	return nil
}

// copyLowers merges lowers (top first) into a new directory dst.
func copyLowers(ctx context.Context, lowers []string, dst string) error {
	if len(lowers) == 0 {
		return errors.New("no source directory")
	}
	fi, err := os.Stat(lowers[len(lowers)-1])
	if err != nil {
		return err
	}
	if err := os.Mkdir(dst, 0o700); err != nil {
		return err
	}
	for i := len(lowers) - 1; i >= 0; i-- {
		if err := snapshot.CopyDir(ctx, lowers[i], dst); err != nil {
			return fmt.Errorf("copy %s: %w", lowers[i], err)
		}
	}
	// The top directory's own metadata, as the mount would show it.
	top, err := os.Stat(lowers[0])
	if err == nil {
		fi = top
	}
	st := fi.Sys().(*syscall.Stat_t)
	if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	return os.Chmod(dst, fi.Mode()&os.ModePerm|fi.Mode()&(os.ModeSticky|os.ModeSetuid|os.ModeSetgid))
}

// copyFile copies the regular file src (fi) to dst with its owner and mode.
func copyFile(src, dst string, fi os.FileInfo) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		return err
	}
	st := fi.Sys().(*syscall.Stat_t)
	if err := os.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	return os.Chmod(dst, fi.Mode().Perm())
}

// times returns the atime and mtime of p (not following a final symlink).
func times(p string) ([2]time.Time, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return [2]time.Time{}, fmt.Errorf("stat %s: %w", p, err)
	}
	return [2]time.Time{time.Unix(st.Atim.Unix()), time.Unix(st.Mtim.Unix())}, nil
}

// setTimes sets the atime and mtime of p (not following a final symlink).
func setTimes(p string, t [2]time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(t[0].UnixNano()), unix.NsecToTimespec(t[1].UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("restore times of %s: %w", p, err)
	}
	return nil
}
