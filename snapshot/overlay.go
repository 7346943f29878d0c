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
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/mount"
	"github.com/builderdev/builder/internal/userns"
)

// overlay prepares roots as overlay mounts over the extracted layers.
type overlay struct {
	workDir string
	options []string
	fuse    string // the fuse-overlayfs program, "" for the kernel's overlay
}

var _ Snapshotter = (*overlay)(nil)

// NewOverlay returns the overlay snapshotter keeping its upper and work
// directories under workDir.
func NewOverlay(workDir string) (Snapshotter, error) {
	if err := os.MkdirAll(workDir, 0o700); err != nil {
		return nil, fmt.Errorf("create work dir: %w", err)
	}
	return &overlay{workDir: workDir, options: overlayOptions()}, nil
}

// overlayOptions turns off what would make the upper dir undiffable
// (metacopy, redirect_dir) and the inode index, for the options this kernel
// knows (a module parameter exists for each).
//
// In a user namespace (kernel 5.11 and later) overlay keeps whiteouts and
// opaque marks in user.overlay.* xattrs ("userxattr"), which also turns
// redirect_dir off and refuses to be told so.
//
// Where the kernel has it (5.10 and later), the mount is "volatile": it
// never syncs the upper dir's file system. Without it, the unmount after
// every RUN waits until all of that file system's dirty data (the whole
// build's, not only the step's) is on disk, and every fsync in the step
// (a package manager makes one per file) waits for the disk. A RUN's
// upper dir needs no more durability than an extracted layer has: both
// are the store's working copies of layers whose blobs are synced.
func overlayOptions() []string {
	var opts []string
	params := []string{"index", "metacopy", "redirect_dir"}
	if userns.Inside() {
		opts = append(opts, "userxattr")
		params = params[:2]
	}
	for _, o := range params {
		if _, err := os.Stat("/sys/module/overlay/parameters/" + o); err == nil {
			opts = append(opts, o+"=off")
		}
	}
	if kernelAtLeast(5, 10) {
		opts = append(opts, "volatile")
	}
	return opts
}

// kernelAtLeast reports whether the running kernel's release is at least
// major.minor.
func kernelAtLeast(major, minor int) bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	return releaseAtLeast(unix.ByteSliceToString(u.Release[:]), major, minor)
}

// releaseAtLeast reports whether the kernel release rel ("6.1.0-28-amd64"
// is 6.1) is at least major.minor.
func releaseAtLeast(rel string, major, minor int) bool {
	fields := strings.FieldsFunc(rel, func(r rune) bool { return r < '0' || r > '9' })
	if len(fields) < 2 || !strings.HasPrefix(rel, fields[0]+".") {
		return false
	}
	ma, err1 := strconv.Atoi(fields[0])
	mi, err2 := strconv.Atoi(fields[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || ma == major && mi >= minor
}

func (o *overlay) Prepare(ctx context.Context, lowers []string) (Active, error) {
	dir, err := os.MkdirTemp(o.workDir, "ov-")
	if err != nil {
		return nil, fmt.Errorf("prepare overlay: %w", err)
	}
	a := &overlayActive{dir: dir, lowers: append([]string(nil), lowers...), fuse: o.fuse}
	if err := a.setup(lowers, o.options); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("prepare overlay: %w", err)
	}
	return a, nil
}

type overlayActive struct {
	dir    string
	lowers []string
	mounts []mount.Mount
	fuse   string // see overlay.fuse
}

var _ Active = (*overlayActive)(nil)

// setup makes u (upper), w (work) and short names l/<n> linking to the
// lowers, so the mount options stay short whatever the lowers' paths.
func (a *overlayActive) setup(lowers []string, options []string) error {
	for _, d := range []string{"u", "w", "l"} {
		if err := os.Mkdir(filepath.Join(a.dir, d), 0o755); err != nil {
			return err
		}
	}
	var names []string
	for i := len(lowers) - 1; i >= 0; i-- {
		abs, err := filepath.Abs(lowers[i])
		if err != nil {
			return err
		}
		n := "l/" + strconv.Itoa(i)
		if err := os.Symlink(abs, filepath.Join(a.dir, n)); err != nil {
			return err
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		if err := os.Mkdir(filepath.Join(a.dir, "e"), 0o755); err != nil {
			return err
		}
		names = []string{"e"}
	}
	opts := append(append([]string(nil), options...),
		"lowerdir="+strings.Join(names, ":"), "upperdir=u", "workdir=w")
	a.mounts = []mount.Mount{{Type: "overlay", Source: "overlay", Options: opts, Dir: a.dir}}
	if a.fuse != "" {
		a.mounts[0].Type, a.mounts[0].Source = mount.FuseOverlay, a.fuse
	}
	return nil
}

func (a *overlayActive) Mounts() []mount.Mount {
	out := make([]mount.Mount, len(a.mounts))
	for i, m := range a.mounts {
		m.Options = append([]string(nil), m.Options...)
		out[i] = m
	}
	return out
}

// Diff walks only the upper directory: a whiteout device becomes ".wh.name",
// an opaque directory the directory and its ".wh..wh..opq". Like BuildKit's
// overlay differ it leaves out what overlayfs copied up without a change (a
// directory whose attributes equal the lower one's, its mtime aside, is
// written only as the parent of a changed entry; see sameCopiedUp) and
// whiteouts of names no lower layer has.
func (a *overlayActive) Diff(ctx context.Context, w io.Writer) error {
	upper := filepath.Join(a.dir, "u")
	d := newDiffWriter(ctx, tar.NewWriter(w), upper)
	if err := a.walk(d, NewView(a.lowers), upper, ".", true); err != nil {
		return fmt.Errorf("diff overlay: %w", err)
	}
	return d.close()
}

// walk diffs the upper directory rel. merged says whether rel merges with a
// lower directory (false below opaque and new directories, where every
// entry is new and nothing below needs a whiteout).
func (a *overlayActive) walk(d *diffWriter, v *View, upper, rel string, merged bool) error {
	ents, err := os.ReadDir(filepath.Join(upper, rel))
	if err != nil {
		return err
	}
	for _, e := range ents {
		name := path.Join(rel, e.Name())
		fi, err := e.Info()
		if err != nil {
			return err
		}
		var lfi fs.FileInfo
		if merged {
			lfi, err = v.Lstat(name)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		if e.Name() == whiteoutOpaque {
			continue // fuse-overlayfs's opaque marker: isOpaque read it
		}
		if hidden, ok := strings.CutPrefix(e.Name(), whiteoutPrefix); ok && fi.Mode().IsRegular() {
			// fuse-overlayfs's whiteout where it cannot make a device.
			name = path.Join(rel, hidden)
			if merged {
				lfi, err = v.Lstat(name)
				if err != nil && !errors.Is(err, fs.ErrNotExist) {
					return err
				}
			}
			if lfi != nil {
				if err := d.whiteout(name); err != nil {
					return err
				}
			}
			continue
		}
		if isWhiteout(fi) {
			if lfi == nil {
				continue // hides nothing
			}
			if err := d.whiteout(name); err != nil {
				return err
			}
			continue
		}
		up := filepath.Join(upper, name)
		// Only what hides something lower is opaque (fuse-overlayfs
		// marks every directory it makes).
		opaque := fi.IsDir() && lfi != nil && isOpaque(up)
		kind := changeAdd
		if lfi != nil {
			kind = changeModify
			if !opaque {
				_, lp, err := v.realPathInfo(name)
				if err != nil {
					return err
				}
				same, err := sameCopiedUp(up, fi, lp, lfi)
				if err != nil {
					return err
				}
				if same {
					kind = changeUnmodified
				}
			}
		}
		hdr, err := d.change(kind, name, fi)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			continue
		}
		if opaque {
			if err := d.opaque(name, hdr); err != nil {
				return err
			}
		}
		below := lfi != nil && lfi.IsDir() && !opaque
		if err := a.walk(d, v, upper, name, below); err != nil {
			return err
		}
	}
	return nil
}

// UpperDir is the overlay's upper directory.
func (a *overlayActive) UpperDir() string { return filepath.Join(a.dir, "u") }

func (a *overlayActive) Release(ctx context.Context) error {
	if err := os.RemoveAll(a.dir); err != nil {
		return fmt.Errorf("release overlay: %w", err)
	}
	return nil
}
