package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/builderdev/builder/internal/testenv"
)

// rootlessUser is an ordinary user the test created: its home and a work
// dir it owns, with a copy of the builder binary and the busybox layout.
type rootlessUser struct {
	name     string
	uid, gid int
	dir      string // owned by the user: home, contexts, stores
	bin      string
	busybox  string // --build-context value for FROM busybox
}

// newRootlessUser adds a user with a unique name (and, with subIDs, a
// subordinate uid and gid range of 65536), and removes both at the end.
// Its files live in a dir under /tmp that the user can reach (the test's
// TMPDIR is root's own).
func newRootlessUser(t *testing.T, subIDs bool) *rootlessUser {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to add a user")
	}
	for _, tool := range []string{"useradd", "userdel", "usermod", "setpriv", "newuidmap", "newgidmap"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s: %v", tool, err)
		}
	}
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "brl" + hex.EncodeToString(b)
	dir, err := os.MkdirTemp("/tmp", "builder-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// No automatic subordinate ranges (Debian's useradd adds them): the
	// test decides.
	run("useradd", "-M", "-d", home, "-s", "/bin/sh", "-U", "-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0", name)
	t.Cleanup(func() {
		// userdel drops the user's subordinate ranges too; --del-subuids
		// first in case this userdel does not.
		_ = exec.Command("usermod", "--del-subuids", "1-4294967294", "--del-subgids", "1-4294967294", name).Run()
		if out, err := exec.Command("userdel", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v\n%s", name, err, out)
		}
		for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
			if data, _ := os.ReadFile(f); bytes.Contains(data, []byte(name+":")) {
				t.Errorf("%s still names %s", f, name)
			}
		}
	})
	if subIDs {
		// Far above the ids a test image uses, and apart per user.
		start := 400000 + int(b[0])<<16
		r := strconv.Itoa(start) + "-" + strconv.Itoa(start+65535)
		run("usermod", "--add-subuids", r, "--add-subgids", r, name)
	}
	u, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	ru := &rootlessUser{name: name, dir: dir}
	ru.uid, _ = strconv.Atoi(u.Uid)
	ru.gid, _ = strconv.Atoi(u.Gid)
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	ru.bin = filepath.Join(dir, "builder")
	run("cp", builderBin, ru.bin)
	layout := filepath.Join(dir, "busybox")
	run("cp", "-a", testenv.BusyboxLayout(t), layout)
	ru.busybox = "busybox=oci-layout://" + layout + ":latest"
	run("chown", "-R", u.Uid+":"+u.Gid, home, layout)
	return ru
}

// mkdir makes a dir (and parents) below the user's dir, owned by the user.
func (u *rootlessUser) mkdir(t *testing.T, rel string) string {
	t.Helper()
	p := filepath.Join(u.dir, rel)
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := p; d != u.dir; d = filepath.Dir(d) {
		if err := os.Chown(d, u.uid, u.gid); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// write writes a file below the user's dir, owned by the user.
func (u *rootlessUser) write(t *testing.T, rel, data string) string {
	t.Helper()
	u.mkdir(t, filepath.Dir(rel))
	p := filepath.Join(u.dir, rel)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, u.uid, u.gid); err != nil {
		t.Fatal(err)
	}
	return p
}

// run runs argv (a path to the builder copy, or unshare ... builder) as the
// user with a small environment (HOME, PATH, no XDG dirs).
func (u *rootlessUser) run(t *testing.T, env []string, argv ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	args := append([]string{"--reuid=" + strconv.Itoa(u.uid), "--regid=" + strconv.Itoa(u.gid),
		"--init-groups", "--"}, argv...)
	cmd := exec.CommandContext(ctx, "setpriv", args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Join(u.dir, "home"),
		"USER=" + u.name, "TMPDIR=" + filepath.Join(u.dir, "home"), hostSecret}, env...)
	cmd.Dir = u.dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	err := cmd.Run()
	r := result{args: argv, stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	default:
		t.Fatalf("run %v as %s: %v", argv, u.name, err)
	}
	return r
}

// build runs `builder build` as the user.
func (u *rootlessUser) build(t *testing.T, env []string, args ...string) result {
	t.Helper()
	return u.run(t, env, append([]string{u.bin, "build", "--progress", "plain", "--build-context", u.busybox}, args...)...)
}

// statOwner is the uid that owns p.
func statOwner(p string) (int, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return -1, err
	}
	return int(fi.Sys().(*syscall.Stat_t).Uid), nil
}
