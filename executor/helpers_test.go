package executor_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/builderdev/builder/executor"
	"github.com/builderdev/builder/internal/mount"
)

const testPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// busyboxRoot builds a minimal root file system from Debian's busybox-static.
func busyboxRoot(t *testing.T) string {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox-static is not installed")
	}
	root := filepath.Join(t.TempDir(), "rootfs")
	for _, d := range []struct {
		name string
		mode os.FileMode
	}{{"bin", 0o755}, {"etc", 0o755}, {"tmp", 0o1777}, {"root", 0o700}, {"home/user", 0o755}} {
		p := filepath.Join(root, d.name)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, d.mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(filepath.Join(root, "home/user"), 1000, 1000); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n",
		"etc/group":  "root:x:0:\nwheel:x:10:user\nuser:x:1000:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Stable, old times so a changed mtime is visible.
	old := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, p := range []string{root, filepath.Join(root, "etc"), filepath.Join(root, "tmp")} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// newExec returns a namespace executor whose mount points live in a
// per-test dir, and checks at the end that no mount under it remains.
func newExec(t *testing.T) executor.Executor {
	t.Helper()
	tmp := t.TempDir()
	e, err := executor.New(executor.Namespace, executor.WithTmpDir(tmp))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if m := mountsUnder(t, tmp); len(m) > 0 {
			t.Errorf("mounts left behind: %v", m)
		}
		entries, _ := os.ReadDir(tmp)
		if len(entries) > 0 {
			t.Errorf("files left in tmp dir: %v", entries)
		}
	})
	return e
}

// mountsUnder lists mount points under dir in this process's mount table.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && strings.HasPrefix(fields[4], dir) {
			out = append(out, fields[4])
		}
	}
	return out
}

func bindRoot(dir string) []mount.Mount {
	return []mount.Mount{{Type: "bind", Source: dir, Options: []string{"rbind"}}}
}

// run runs args in root with spec defaults and returns stdout and stderr.
func run(t *testing.T, e executor.Executor, root string, args []string, edit func(*executor.Spec)) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	spec := executor.Spec{
		RootMounts: bindRoot(root),
		Args:       args,
		Env:        []string{testPath},
		Cwd:        "/",
		Stdout:     &stdout,
		Stderr:     &stderr,
	}
	if edit != nil {
		edit(&spec)
	}
	err := e.Run(context.Background(), spec)
	return stdout.String(), stderr.String(), err
}

func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

// markVar tags the processes a test's steps start: its value is unique to
// one test of one run, so a test looks for its own leftovers, not for any
// `sleep 30` of another test or another run on the machine.
const markVar = "BUILDER_TEST_MARK"

// testMark returns this test's mark: the name of its own temp dir, which
// testing makes unique (test name plus random digits) and keeps for the
// test's life.
func testMark(t *testing.T) string {
	t.Helper()
	return filepath.Base(filepath.Dir(t.TempDir()))
}

// markEnv is the environment entry that carries t's mark.
func markEnv(t *testing.T) string {
	t.Helper()
	return markVar + "=" + testMark(t)
}

// marked prefixes script with the export of t's mark, so every process it
// starts inherits it.
func marked(t *testing.T, script string) string {
	t.Helper()
	return "export " + markEnv(t) + "; " + script
}

// processesMarked lists live processes (as "PID cmdline") that carry mark
// in their environment and whose command line contains one of patterns.
func processesMarked(mark string, patterns ...string) []string {
	var out []string
	want := []byte(markVar + "=" + mark + "\x00")
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		env, err := os.ReadFile(filepath.Join(d, "environ"))
		if err != nil || !bytes.Contains(env, want) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil {
			continue
		}
		cmdline := strings.TrimSpace(strings.ReplaceAll(string(data), "\x00", " "))
		for _, s := range patterns {
			if strings.Contains(cmdline, s) {
				out = append(out, filepath.Base(d)+" "+cmdline)
				break
			}
		}
	}
	return out
}
