package mount

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseOptions(t *testing.T) {
	for _, tt := range []struct {
		name  string
		opts  []string
		flags uintptr
		data  string
	}{
		{name: "none"},
		{name: "ro", opts: []string{"ro"}, flags: unix.MS_RDONLY},
		{name: "later rw clears ro", opts: []string{"ro", "rw"}},
		{name: "later ro wins", opts: []string{"rw", "ro"}, flags: unix.MS_RDONLY},
		{name: "secret bind", opts: []string{"bind", "ro", "nosuid", "nodev", "noexec"},
			flags: unix.MS_BIND | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC},
		{name: "rbind is recursive", opts: []string{"rbind", "rw"}, flags: unix.MS_BIND | unix.MS_REC},
		{name: "clearing flags", opts: []string{"nosuid", "suid", "nodev", "dev", "noexec", "exec"}},
		{name: "atime and sync", opts: []string{"noatime", "nodiratime", "relatime", "strictatime", "sync"},
			flags: unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME | unix.MS_SYNCHRONOUS},
		{name: "propagation and defaults dropped", opts: []string{"defaults", "private", "rprivate", "slave", "rslave", "shared", "rshared"}},
		{name: "tmpfs data", opts: []string{"mode=1777", "size=65536"}, data: "mode=1777,size=65536"},
		{name: "overlay data keeps order", opts: []string{"index=off", "lowerdir=l/1:l/0", "ro", "upperdir=u", "workdir=w"},
			flags: unix.MS_RDONLY, data: "index=off,lowerdir=l/1:l/0,upperdir=u,workdir=w"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			flags, data := ParseOptions(tt.opts)
			if flags != tt.flags || data != tt.data {
				t.Errorf("ParseOptions(%q) = %#x, %q; want %#x, %q", tt.opts, flags, data, tt.flags, tt.data)
			}
		})
	}
}

func TestRebase(t *testing.T) {
	abs := func(p string) string { return "/base/" + p }
	for _, tt := range []struct{ in, want string }{
		{"", ""},
		{"index=off", "index=off"},
		{"lowerdir=l/1:l/0,upperdir=u,workdir=w", "lowerdir=/base/l/1:/base/l/0,upperdir=/base/u,workdir=/base/w"},
		{"lowerdir=/abs:rel", "lowerdir=/abs:/base/rel"},
		{"index=off,lowerdir=e,xino=off", "index=off,lowerdir=/base/e,xino=off"},
		{"size=1,mode=755", "size=1,mode=755"},
	} {
		if got := rebase(tt.in, abs); got != tt.want {
			t.Errorf("rebase(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting needs root")
	}
}

// mountNS runs f in a private mount namespace of its own locked thread, so
// nothing it mounts is seen outside (or left behind) whatever happens.
func mountNS(t *testing.T, f func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		// The thread is never unlocked: it exits with the goroutine, and its
		// namespace with it.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_FS); err != nil {
			errc <- err
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			errc <- err
			return
		}
		errc <- f()
	}()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestMountAtBindReadOnly(t *testing.T) {
	needRoot(t)
	src, dst := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "f"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	mountNS(t, func() error {
		m := Mount{Type: "bind", Source: src, Options: []string{"rbind", "ro"}}
		if err := m.MountAt(dst); err != nil {
			return err
		}
		defer Unmount(dst)
		if b, err := os.ReadFile(filepath.Join(dst, "f")); err != nil || string(b) != "x" {
			return errors.New("bind mount does not show the source")
		}
		err := os.WriteFile(filepath.Join(dst, "g"), nil, 0o644)
		if !errors.Is(err, unix.EROFS) {
			return errors.New("ro bind mount is writable: " + errString(err))
		}
		return nil
	})
}

func TestMountAtOverlayRelativeToDir(t *testing.T) {
	needRoot(t)
	for _, long := range []bool{false, true} {
		t.Run(map[bool]string{false: "short", true: "through /proc/self/fd"}[long], func(t *testing.T) {
			dir := t.TempDir()
			var lowers []string
			n := 1
			if long {
				n = pageLimit/(len(dir)+1) + 1 // absolute paths would not fit a page
			}
			for i := 0; i < n; i++ {
				l := "l/" + strconv.Itoa(i)
				if err := os.MkdirAll(filepath.Join(dir, l), 0o755); err != nil {
					t.Fatal(err)
				}
				lowers = append(lowers, l)
			}
			if err := os.WriteFile(filepath.Join(dir, lowers[0], "f"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			for _, d := range []string{"u", "w", "m"} {
				if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			target := filepath.Join(dir, "m")
			opt := "lowerdir=" + strings.Join(lowers, ":")
			if abs := rebase(opt, func(p string) string { return filepath.Join(dir, p) }); long != (len(abs) >= pageLimit) {
				t.Fatalf("test setup: absolute options are %d bytes, long=%t", len(abs), long)
			}
			mountNS(t, func() error {
				m := Mount{Type: "overlay", Source: "overlay", Dir: dir,
					Options: []string{opt, "upperdir=u", "workdir=w"}}
				if err := m.MountAt(target); err != nil {
					return err
				}
				defer Unmount(target)
				if b, err := os.ReadFile(filepath.Join(target, "f")); err != nil || string(b) != "x" {
					return errors.New("overlay does not show the lower file: " + errString(err))
				}
				return nil
			})
		})
	}
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}
