package e2e_test

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
)

// mountTmpfs mounts a tmpfs of size (e.g. "24m") on a new temp dir and
// unmounts it when the test ends.
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "small")
	mkdir(t, dir, 0o755)
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() {
		if m := testenv.MountsUnder(dir + "/"); len(m) > 0 {
			t.Errorf("mounts left on the small store: %v", m)
		}
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
			_ = syscall.Unmount(dir, syscall.MNT_DETACH)
		}
	})
	return dir
}

// fillDisk writes dir/filler until the disk is full, then frees keep bytes.
func fillDisk(t *testing.T, dir string, keep int64) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	var n int64
	for {
		w, err := f.Write(buf)
		n += int64(w)
		if errors.Is(err, syscall.ENOSPC) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Truncate(max(n-keep, 0)); err != nil {
		t.Fatal(err)
	}
	return p
}

func randomFile(t *testing.T, p string, size int64) {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		t.Fatal(err)
	}
}

// A full disk during a layer write, a layer extraction, a cache record
// write or push staging fails the build with an error that says so, and
// the store works again once there is space: the next build succeeds and
// fsck finds nothing wrong.
func TestDiskFull(t *testing.T) {
	testenv.LeakCheck(t)
	bb := busyboxContext(t)
	build := func(root, ctxDir string, extra ...string) result {
		args := append([]string{"--root", root, "build", "--progress", "plain", "--build-context", bb}, extra...)
		return runBuilder(t, runOpts{}, append(args, ctxDir)...)
	}
	wantFailure := func(t *testing.T, r result, subs ...string) {
		t.Helper()
		if r.code == 0 {
			t.Fatalf("build succeeded on a full disk:\n%s", r)
		}
		for _, s := range subs {
			if !strings.Contains(r.stderr, s) {
				t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
			}
		}
		t.Logf("%s", lastLines(r.stderr, 1))
		if strings.Contains(r.stderr, "panic") {
			t.Errorf("panic:\n%s", r.stderr)
		}
	}
	usable := func(t *testing.T, root, ctxDir string, extra ...string) {
		t.Helper()
		if r := build(root, ctxDir, extra...); r.code != 0 {
			t.Fatalf("the store does not build after the disk was freed:\n%s", r)
		}
		fsck := runBuilder(t, runOpts{}, "--root", root, "fsck")
		if fsck.code != 0 || !strings.Contains(fsck.stdout, ": 0 problems") {
			t.Errorf("fsck after a full disk:\n%s", fsck)
		}
		if r := runBuilder(t, runOpts{}, "--root", root, "du"); r.code != 0 {
			t.Errorf("du: %s", r)
		}
	}

	t.Run("layer write", func(t *testing.T) {
		small := mountTmpfs(t, "24m")
		root := filepath.Join(small, "root")
		ctxDir := filepath.Join(t.TempDir(), "ctx")
		writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM busybox\nCOPY big /big\n")
		randomFile(t, filepath.Join(ctxDir, "big"), 40<<20)
		wantFailure(t, build(root, ctxDir), "COPY", "no space left on device")
		randomFile(t, filepath.Join(ctxDir, "big"), 1<<20)
		usable(t, root, ctxDir)
	})

	t.Run("extraction", func(t *testing.T) {
		small := mountTmpfs(t, "24m")
		root := filepath.Join(small, "root")
		ctxDir := filepath.Join(t.TempDir(), "ctx")
		// 40 MB of zeros is a blob of a few KB that RUN must extract
		writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM busybox\nCOPY zeros /zeros\nRUN true\n")
		writeFile(t, filepath.Join(ctxDir, "zeros"), strings.Repeat("\x00", 40<<20))
		wantFailure(t, build(root, ctxDir), "RUN true", "extract")
		writeFile(t, filepath.Join(ctxDir, "zeros"), "small")
		usable(t, root, ctxDir)
	})

	t.Run("cache record write", func(t *testing.T) {
		small := mountTmpfs(t, "24m")
		root := filepath.Join(small, "root")
		ctxDir := filepath.Join(t.TempDir(), "ctx")
		writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM busybox\nARG V\nENV V=$V\nRUN echo 1 > /v\n")
		if r := build(root, ctxDir, "--build-arg", "V=0"); r.code != 0 {
			t.Fatal(r)
		}
		// A 100 KB value makes the RUN step's record (which holds the
		// config) that large: with some pages free the build's first small
		// writes (its lease) succeed and the record's fails. Find such a
		// slack.
		hit := false
		for pages := int64(1); pages < 40 && !hit; pages += 4 {
			filler := fillDisk(t, small, pages*4096)
			v := fmt.Sprintf("V=%d%s", pages, strings.Repeat("v", 100<<10))
			r := build(root, ctxDir, "--build-arg", v)
			if r.code != 0 {
				wantFailure(t, r, "no space left on device")
				hit = strings.Contains(r.stderr, "write cache record")
			}
			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
			usable(t, root, ctxDir, "--build-arg", v)
		}
		if !hit {
			t.Errorf("no slack made a cache record write fail")
		}
	})

	t.Run("push staging", func(t *testing.T) {
		reg := testenv.StartRegistry(t)
		small := mountTmpfs(t, "24m")
		root := filepath.Join(small, "root")
		ctxDir := filepath.Join(t.TempDir(), "ctx")
		writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM busybox\nCOPY rnd /rnd\n")
		randomFile(t, filepath.Join(ctxDir, "rnd"), 6<<20)
		if r := build(root, ctxDir); r.code != 0 {
			t.Fatal(r)
		}
		// the build is cached; pushing as zstd stages recompressed layers
		out := "type=image,name=" + reg.Ref("e2e/full") + ":v1,push=true,compression=zstd,force-compression=true"
		filler := fillDisk(t, small, 1<<20)
		wantFailure(t, build(root, ctxDir, "-o", out), "no space left on device")
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
		usable(t, root, ctxDir, "-o", out)
		testenv.SkopeoInspect(t, "docker://"+reg.Ref("e2e/full")+":v1", "--tls-verify=false")
	})
}
