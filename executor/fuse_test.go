package executor_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/builderdev/builder/executor"
	"github.com/builderdev/builder/internal/mount"
)

// A root served by fuse-overlayfs (the rootless fallback where the kernel
// cannot mount overlay in a user namespace) is mounted by the init, the
// step's writes land in the upper dir, and nothing stays mounted.
func TestFuseOverlayRoot(t *testing.T) {
	bin, err := exec.LookPath("fuse-overlayfs")
	if err != nil {
		t.Skip("no fuse-overlayfs (Debian package fuse-overlayfs)")
	}
	lower := busyboxRoot(t)
	dir := t.TempDir()
	for _, d := range []string{"u", "w"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	e := newExec(t)
	out, stderr, err := run(t, e, lower, sh("echo new > /new && grep -c ' / fuse' /proc/mounts"), func(s *executor.Spec) {
		s.RootMounts = []mount.Mount{{Type: mount.FuseOverlay, Source: bin, Dir: dir,
			Options: []string{"lowerdir=" + lower, "upperdir=u", "workdir=w"}}}
	})
	if err != nil {
		t.Fatalf("run on fuse-overlayfs: %v\n%s", err, stderr)
	}
	if out != "1\n" {
		t.Errorf("root is not a fuse mount: /proc/mounts count %q", out)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "u", "new")); err != nil || string(data) != "new\n" {
		t.Errorf("upper dir: %q, %v", data, err)
	}
	if _, err := os.Stat(filepath.Join(lower, "new")); err == nil {
		t.Error("the step wrote into the lower dir")
	}
	if m := mountsUnder(t, dir); len(m) != 0 {
		t.Errorf("mounts left: %v", m)
	}
}
