package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/builderdev/builder/internal/mount"
)

// TestOverlayCopiedUp checks how the overlay differ tells copied-up but
// unchanged entries from changed ones (entries listed as "name -> target"
// for hard links).
func TestOverlayCopiedUp(t *testing.T) {
	requireRoot(t)
	cases := []struct {
		name   string
		change func(t *testing.T, j func(string) string)
		want   []string
	}{
		{"nothing", func(t *testing.T, j func(string) string) {}, nil},
		{"stub-restored", func(t *testing.T, j func(string) string) {
			mustDo(t, os.WriteFile(j("etc/hosts"), nil, 0o644))
			mustDo(t, os.Remove(j("etc/hosts")))
			setTimes(t, j("."), "etc")
		}, nil},
		{"chmod-same-mode", func(t *testing.T, j func(string) string) {
			mustDo(t, os.Chmod(j("etc/keep"), 0o644))
		}, nil},
		{"rewritten-same-size-and-second", func(t *testing.T, j func(string) string) {
			mustDo(t, os.WriteFile(j("etc/modify"), []byte("new"), 0o644))
			setTimes(t, j("."), "etc/modify", "etc")
		}, []string{"etc/", "etc/modify"}},
		{"opaque-child-like-lower", func(t *testing.T, j func(string) string) {
			mustDo(t, os.RemoveAll(j("opq")))
			mustDo(t, os.Mkdir(j("opq"), 0o755))
			mustDo(t, os.WriteFile(j("opq/a"), []byte("a"), 0o644))
			setTimes(t, j("."), "opq/a", "opq")
		}, []string{"opq/", "opq/.wh..wh..opq", "opq/a"}},
		{"new-hard-link-to-lower-file", func(t *testing.T, j func(string) string) {
			mustDo(t, os.Link(j("etc/keep"), j("etc/keep3")))
		}, []string{"etc/", "etc/keep3", "etc/keep -> etc/keep3"}}, // keep is unchanged but linked
		{"deleted-child-only", func(t *testing.T, j func(string) string) {
			mustDo(t, os.Remove(j("etc/keep")))
			setTimes(t, j("."), "etc")
		}, []string{"etc/", "etc/.wh.keep"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			work := t.TempDir()
			s, err := NewOverlay(filepath.Join(work, "snap"))
			if err != nil {
				t.Fatal(err)
			}
			lowers := ensureAll(t, NewLayers(filepath.Join(work, "layers")), baseLayers(t)...)
			a, err := s.Prepare(ctx, lowers)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Release(ctx)
			mnt := filepath.Join(work, "mnt")
			mustDo(t, os.Mkdir(mnt, 0o755))
			for _, m := range a.Mounts() {
				mustDo(t, m.MountAt(mnt))
			}
			func() {
				defer func() { mustDo(t, mount.Unmount(mnt)) }()
				c.change(t, func(n string) string { return filepath.Join(mnt, n) })
			}()
			var diff bytes.Buffer
			mustDo(t, a.Diff(ctx, &diff))
			var got []string
			for _, h := range readTar(t, diff.Bytes()) {
				if h.Type == tar.TypeLink {
					h.Name += " -> " + h.Linkname
				}
				got = append(got, h.Name)
			}
			if d := cmp.Diff(c.want, got); d != "" {
				t.Errorf("layer entries (-want +got):\n%s", d)
			}
		})
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
