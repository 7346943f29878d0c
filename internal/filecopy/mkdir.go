package filecopy

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"time"

	"github.com/builderdev/builder/internal/layer"
)

// ErrNotDir is wrapped by PlanMkdir's error for a component of the path
// that exists and is not a directory.
var ErrNotDir = errors.New("is not a directory")

// MkdirPlan is what making a directory path in a root takes (WORKDIR): the
// directories of the path that exist, as they are, so that a layer of them
// stacked over the root keeps their owner and mode, and the ones missing.
type MkdirPlan struct {
	Parents []tar.Header // the existing directories, outermost first, named "a/b/"
	Missing []string     // the missing directories, outermost first
}

// PlanMkdir looks at every directory of p (relative, already resolved in
// dest) from p up to the root.
func PlanMkdir(dest FS, p string) (MkdirPlan, error) {
	var m MkdirPlan
	for d := path.Clean(p); d != "." && d != "/"; d = path.Dir(d) {
		fi, err := dest.Lstat(d)
		switch {
		case err == nil && !fi.IsDir():
			return MkdirPlan{}, fmt.Errorf("/%s %w", d, ErrNotDir)
		case err == nil:
			hdr, _ := layer.TarHeader(fi)
			hdr.Name = d + "/"
			m.Parents = append([]tar.Header{hdr}, m.Parents...)
		case errors.Is(err, fs.ErrNotExist) && len(m.Parents) == 0:
			m.Missing = append([]string{d}, m.Missing...)
		default:
			return MkdirPlan{}, err
		}
	}
	return m, nil
}

// WriteLayer writes the plan as a layer tar to w: the existing directories
// as they are (the innermost one, which gets a new entry, dated mtime),
// then the missing ones, 0755 and owned by uid:gid, dated mtime.
func (m MkdirPlan) WriteLayer(w io.Writer, uid, gid int, mtime time.Time) error {
	tw := tar.NewWriter(w)
	mtime = layer.ModTime(mtime)
	for i, hdr := range m.Parents {
		if i == len(m.Parents)-1 {
			hdr.ModTime = mtime
		}
		if err := tw.WriteHeader(&hdr); err != nil {
			return fmt.Errorf("write layer: %w", err)
		}
	}
	for _, p := range m.Missing {
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: p + "/", Mode: 0o755,
			Uid: uid, Gid: gid, ModTime: mtime, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("write layer: %w", err)
		}
	}
	return tw.Close()
}
