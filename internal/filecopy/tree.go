package filecopy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/cpulimit"
	"github.com/builderdev/builder/internal/ctxio"
)

// A bind mount of the build context (or of a local named context) shows a
// tree of an FS: TreeSum is what the RUN's cache key hashes and Materialize
// what the mount shows, both from one walk of the same FS, so that what a
// step sees and what its key covers cannot differ (ignored files are absent
// from both). Every entry is owned by 0:0 in both, as the docker and buildx
// clients send a local context (their resetUIDAndGID), so a checkout owned
// by another user gives the same mount and the same key.

// Linker is an FS that can hard-link one of its regular files to a host
// path. Materialize uses it instead of copying the bytes.
type Linker interface {
	Link(name, dst string) error
}

// ResolveName resolves name inside fsys as a bind mount source is: every
// symlink followed (the last one too), never leaving fsys's root. The
// result is a name fsys's methods take. A name fsys does not show fails
// with an error wrapping ErrNotFound.
func ResolveName(fsys FS, name string) (string, error) {
	r, err := resolveIn(fsys, name, true)
	if err != nil {
		return "", err
	}
	if _, err := fsys.Lstat(fsName(r)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("%s: %w", relName(name), ErrNotFound)
		}
		return "", fmt.Errorf("lstat %s: %w", fsName(r), err)
	}
	return fsName(r), nil
}

// treeRecord is one line of the canonical encoding TreeSum hashes.
type treeRecord struct {
	Path   string `json:"path"`
	Type   string `json:"type"`
	Mode   uint32 `json:"mode"`
	Link   string `json:"link,omitempty"`
	Rdev   uint64 `json:"rdev,omitempty"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
}

// TreeSum is the digest of the tree Materialize writes for name: one JSON
// line per entry (path relative to name, type, permission and special
// bits, link target, device number, sha256 of the bytes; the owner is
// always 0:0), in walk order, never mtimes. With stats a file whose stat is
// unchanged is not read. Hashing takes a slot of cpu (nil: no limit), the
// limiter every CPU-bound job of the build shares.
func TreeSum(ctx context.Context, cpu *cpulimit.Limiter, fsys FS, name string, stats *StatCache) (v1.Hash, error) {
	h := sha256.New()
	enc := json.NewEncoder(h)
	err := walkTree(ctx, fsys, name, func(rel, src string, fi fs.FileInfo) error {
		typ, ok := treeType(fi)
		if !ok {
			return nil
		}
		st := statOf(fi)
		rec := treeRecord{Path: rel, Type: typ, Mode: st.Mode & 0o7777}
		switch typ {
		case "reg":
			rec.Size = fi.Size()
			var sum string
			var err error
			if stats != nil {
				sum, err = stats.Sum(ctx, cpu, fsys, src, fi)
			} else {
				sum, err = hashOpen(ctx, cpu, func() (io.ReadCloser, error) { return fsys.Open(src) }, src)
			}
			if err != nil {
				return err
			}
			rec.SHA256 = sum
		case "symlink":
			l, err := fsys.Readlink(src)
			if err != nil {
				return fmt.Errorf("readlink %s: %w", src, err)
			}
			rec.Link = l
		case "char", "block":
			rec.Rdev = uint64(st.Rdev)
		}
		if err := enc.Encode(rec); err != nil {
			return fmt.Errorf("encode tree record: %w", err)
		}
		return nil
	}, nil)
	if err != nil {
		return v1.Hash{}, err
	}
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}, nil
}

// Materialize writes the tree fsys shows at name to dst, which must not
// exist: a directory with everything below it, or a single file. Modes and
// mtimes are kept; every entry is owned by 0:0 (where the process may
// chown). A regular file already owned by 0:0 is a hard link when fsys is a
// Linker and the link works (same file system, allowed to link), else a
// copy. Sockets are left out, as TreeSum leaves them out.
func Materialize(ctx context.Context, fsys FS, name, dst string) error {
	m := &materializer{fsys: fsys, dst: dst}
	m.linker, _ = fsys.(Linker)
	enter := func(rel, src string, fi fs.FileInfo) error { return m.enter(ctx, rel, src, fi) }
	return walkTree(ctx, fsys, name, enter, m.leave)
}

type materializer struct {
	fsys   FS
	linker Linker // nil once a link failed: copy from then on
	dst    string
}

func (m *materializer) target(rel string) string {
	return filepath.Join(m.dst, filepath.FromSlash(rel))
}

func (m *materializer) enter(ctx context.Context, rel, src string, fi fs.FileInfo) error {
	typ, ok := treeType(fi)
	if !ok {
		return nil
	}
	p := m.target(rel)
	st := statOf(fi)
	switch typ {
	case "dir":
		// Writable until leave gives it its own mode.
		if err := os.Mkdir(p, 0o700); err != nil {
			return fmt.Errorf("materialize %s: %w", src, err)
		}
		return nil
	case "reg":
		if m.linker != nil && st.Uid == 0 && st.Gid == 0 {
			if err := m.linker.Link(src, p); err == nil {
				return nil
			}
			m.linker = nil // another file system, or not allowed: copy
		}
		if err := m.copyFile(ctx, src, p, st.Mode&0o7777); err != nil {
			return fmt.Errorf("materialize %s: %w", src, err)
		}
	case "symlink":
		l, err := m.fsys.Readlink(src)
		if err != nil {
			return fmt.Errorf("readlink %s: %w", src, err)
		}
		if err := os.Symlink(l, p); err != nil {
			return fmt.Errorf("materialize %s: %w", src, err)
		}
	default: // fifo, char, block
		if err := unix.Mknod(p, st.Mode, int(st.Rdev)); err != nil {
			return fmt.Errorf("materialize %s: %w", src, err)
		}
	}
	return m.setMeta(p, fi, typ == "symlink")
}

func (m *materializer) leave(rel, src string, fi fs.FileInfo) error {
	p := m.target(rel)
	if err := os.Chmod(p, fs.FileMode(statOf(fi).Mode&0o777)|fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)); err != nil {
		return fmt.Errorf("materialize %s: %w", src, err)
	}
	return m.setMeta(p, fi, false)
}

func (m *materializer) copyFile(ctx context.Context, src, p string, mode uint32) error {
	rc, err := m.fsys.Open(src)
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, ctxio.Reader(ctx, rc)); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return unix.Chmod(p, mode)
}

// setMeta makes p owned by 0:0 (when allowed) and gives it fi's mtime.
func (m *materializer) setMeta(p string, fi fs.FileInfo, symlink bool) error {
	st := statOf(fi)
	if err := os.Lchown(p, 0, 0); err != nil && !errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("materialize %s: %w", p, err)
	}
	// Chown clears set-id bits: put them back (not on symlinks).
	if !symlink && st.Mode&0o6000 != 0 {
		if err := unix.Chmod(p, st.Mode&0o7777); err != nil {
			return fmt.Errorf("materialize %s: %w", p, err)
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(fi.ModTime().UnixNano()), unix.NsecToTimespec(fi.ModTime().UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("materialize %s: %w", p, err)
	}
	return nil
}

// walkTree calls enter for name and, when it is a directory, for every
// entry below it (names sorted, parents first), and leave for each
// directory after its entries. rel is the path relative to name ("." for
// name itself), src the name in fsys. Symlinks below name are not followed.
func walkTree(ctx context.Context, fsys FS, name string, enter, leave func(rel, src string, fi fs.FileInfo) error) error {
	fi, err := fsys.Lstat(name)
	if err != nil {
		return fmt.Errorf("lstat %s: %w", name, err)
	}
	return walkEntry(ctx, fsys, ".", name, fi, enter, leave)
}

func walkEntry(ctx context.Context, fsys FS, rel, src string, fi fs.FileInfo, enter, leave func(rel, src string, fi fs.FileInfo) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := enter(rel, src, fi); err != nil {
		return err
	}
	if !fi.IsDir() {
		return nil
	}
	ents, err := fsys.ReadDir(src)
	if err != nil {
		return fmt.Errorf("read dir %s: %w", src, err)
	}
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	for _, e := range ents {
		childSrc := path.Join(src, e.Name())
		cfi, err := fsys.Lstat(childSrc)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return fmt.Errorf("lstat %s: %w", childSrc, err)
		}
		if err := walkEntry(ctx, fsys, path.Join(rel, e.Name()), childSrc, cfi, enter, leave); err != nil {
			return err
		}
	}
	if leave != nil {
		return leave(rel, src, fi)
	}
	return nil
}

// treeType names fi's type; ok is false for sockets and unknown types.
func treeType(fi fs.FileInfo) (string, bool) {
	m := fi.Mode()
	switch {
	case m.IsRegular():
		return "reg", true
	case m.IsDir():
		return "dir", true
	case m&fs.ModeSymlink != 0:
		return "symlink", true
	case m&fs.ModeNamedPipe != 0:
		return "fifo", true
	case m&fs.ModeCharDevice != 0:
		return "char", true
	case m&fs.ModeDevice != 0:
		return "block", true
	}
	return "", false
}

// statOf is fi's stat; an FS without one gives its permission bits.
func statOf(fi fs.FileInfo) *syscall.Stat_t {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st
	}
	m := fi.Mode()
	mode := uint32(m.Perm())
	for bit, v := range map[fs.FileMode]uint32{fs.ModeSetuid: 0o4000, fs.ModeSetgid: 0o2000, fs.ModeSticky: 0o1000} {
		if m&bit != 0 {
			mode |= v
		}
	}
	return &syscall.Stat_t{Mode: mode}
}
