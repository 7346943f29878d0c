package testenv

import (
	"archive/tar"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"
)

// Epoch returns the fixed mtime of every file in the busybox image,
// 2000-01-01T00:00:00Z.
func Epoch() time.Time { return time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) }

// BusyboxPath is where busybox-static installs the static binary.
const BusyboxPath = "/bin/busybox"

// DefaultPath is the PATH Docker puts in an image's Env.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Users of the busybox image.
const (
	BusyboxPasswd = "root:x:0:0:root:/root:/bin/sh\n" +
		"user:x:1000:1000:user:/home/user:/bin/sh\n" +
		"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
	BusyboxGroup = "root:x:0:\n" +
		"staff:x:50:user\n" +
		"user:x:1000:\n" +
		"nogroup:x:65534:\n"
)

// BusyboxEntries returns the rootfs of the busybox image as tar entries:
// /bin/busybox (from Debian's busybox-static) and one symlink per applet,
// /etc/passwd and /etc/group (root, user 1000:1000 with home /home/user,
// nobody; group staff 50 lists user), /tmp 1777, /root 0700, /home/user
// owned by 1000:1000; every mtime is Epoch().
func BusyboxEntries(t testing.TB) []TarEntry {
	t.Helper()
	bin, err := os.ReadFile(BusyboxPath)
	if err != nil {
		t.Fatalf("read %s (install busybox-static): %v", BusyboxPath, err)
	}
	out, err := exec.Command(BusyboxPath, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	applets := strings.Fields(string(out))
	sort.Strings(applets)
	dir := func(name string, mode int64, uid, gid int) TarEntry {
		return TarEntry{Header: tar.Header{Typeflag: tar.TypeDir, Name: name + "/", Mode: mode,
			Uid: uid, Gid: gid, ModTime: Epoch()}}
	}
	file := func(name string, mode int64, body []byte) TarEntry {
		return TarEntry{Header: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode,
			ModTime: Epoch()}, Body: body}
	}
	entries := []TarEntry{
		dir("bin", 0o755, 0, 0),
		file("bin/busybox", 0o755, bin),
	}
	for _, a := range applets {
		if a == "busybox" || strings.Contains(a, "/") {
			continue
		}
		entries = append(entries, TarEntry{Header: tar.Header{Typeflag: tar.TypeSymlink,
			Name: "bin/" + a, Linkname: "/bin/busybox", Mode: 0o777, ModTime: Epoch()}})
	}
	entries = append(entries,
		dir("dev", 0o755, 0, 0),
		dir("etc", 0o755, 0, 0),
		file("etc/group", 0o644, []byte(BusyboxGroup)),
		file("etc/passwd", 0o644, []byte(BusyboxPasswd)),
		dir("home", 0o755, 0, 0),
		dir("home/user", 0o755, 1000, 1000),
		dir("proc", 0o755, 0, 0),
		dir("root", 0o700, 0, 0),
		dir("sys", 0o755, 0, 0),
		dir("tmp", 0o1777, 0, 0),
		dir("usr", 0o755, 0, 0),
		dir("usr/bin", 0o755, 0, 0),
		dir("var", 0o755, 0, 0),
	)
	return entries
}

// BusyboxConfig is the image config of the busybox image (without rootfs).
func BusyboxConfig() map[string]any {
	return map[string]any{
		"created":      Epoch().Format(time.RFC3339),
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config": map[string]any{
			"Env": []string{"PATH=" + DefaultPath},
			"Cmd": []string{"/bin/sh"},
		},
		"history": []map[string]any{
			{"created": Epoch().Format(time.RFC3339), "created_by": "testenv: busybox-static rootfs"},
			{"created": Epoch().Format(time.RFC3339), "created_by": `CMD ["/bin/sh"]`, "empty_layer": true},
		},
	}
}

// BusyboxLayout writes the busybox image as an OCI image layout (tag
// "latest") into a new temp dir and returns the dir. Its digest is stable
// for a given busybox binary.
func BusyboxLayout(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "busybox")
	WriteLayout(t, dir, "latest", BusyboxConfig(), BuildTar(t, BusyboxEntries(t)))
	return dir
}

// PushBusybox copies the busybox layout to reg as busybox:latest with
// skopeo and returns the reference "127.0.0.1:PORT/busybox:latest".
func PushBusybox(t testing.TB, reg *Registry) string {
	t.Helper()
	ref := reg.Ref("busybox:latest")
	Skopeo(t, append(append([]string{"copy"}, reg.SkopeoFlags("dest-")...),
		"oci:"+BusyboxLayout(t)+":latest", "docker://"+ref)...)
	return ref
}
