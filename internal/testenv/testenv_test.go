package testenv

import (
	"archive/tar"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRegistry(t *testing.T) {
	tests := []struct {
		name string
		opts []RegistryOption
		auth bool
	}{
		{name: "plain"},
		{name: "tls", opts: []RegistryOption{WithTLS()}},
		{name: "basic", opts: []RegistryOption{WithBasicAuth("alice", "s3cret")}, auth: true},
		{name: "token", opts: []RegistryOption{WithTokenAuth("bob", "t0ken-pass")}, auth: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			LeakCheck(t)
			reg := StartRegistry(t, tt.opts...)
			if got, want := reg.TLS(), len(tt.opts) > 0; got != want {
				t.Fatalf("TLS() = %v, want %v", got, want)
			}
			ref := PushBusybox(t, reg)
			if ref != reg.Host()+"/busybox:latest" {
				t.Fatalf("PushBusybox ref = %q", ref)
			}
			var info struct {
				Digest string
				Layers []string
				Env    []string
			}
			raw := SkopeoInspect(t, "docker://"+ref, reg.SkopeoFlags("")...)
			if err := json.Unmarshal(raw, &info); err != nil {
				t.Fatalf("decode inspect: %v", err)
			}
			local := ReadLayout(t, BusyboxLayout(t), "latest")
			if info.Digest != local.ManifestDigest {
				t.Errorf("registry digest %s, layout digest %s", info.Digest, local.ManifestDigest)
			}
			if len(info.Layers) != 1 || info.Env[0] != "PATH="+DefaultPath {
				t.Errorf("inspect = %+v", info)
			}
			if !tt.auth {
				return
			}
			for _, creds := range []string{reg.Username + ":wrong", ""} {
				args := []string{"inspect"}
				if creds != "" {
					args = append(args, "--creds="+creds)
				}
				args = append(args, "--cert-dir="+reg.CertDir, "docker://"+ref)
				if _, err := SkopeoErr(t, args...); err == nil {
					t.Errorf("inspect with creds %q succeeded, want failure", creds)
				}
			}
			// Pushing needs the credentials too.
			bad := []string{"copy", "--dest-cert-dir=" + reg.CertDir, "--dest-creds=" + reg.Username + ":nope",
				"oci:" + BusyboxLayout(t) + ":latest", "docker://" + reg.Ref("other:1")}
			if _, err := SkopeoErr(t, bad...); err == nil {
				t.Errorf("push with a wrong password succeeded")
			}
		})
	}
}

func TestBusyboxImage(t *testing.T) {
	LeakCheck(t)
	dir := BusyboxLayout(t)
	img := ReadLayout(t, dir, "latest")
	if again := ReadLayout(t, BusyboxLayout(t), "latest"); again.ManifestDigest != img.ManifestDigest {
		t.Errorf("busybox digest not stable: %s then %s", img.ManifestDigest, again.ManifestDigest)
	}
	fsys := img.RootFS(t)
	checks := []struct {
		name     string
		typ      byte
		mode     int64
		uid, gid int
		link     string
	}{
		{"bin/busybox", tar.TypeReg, 0o755, 0, 0, ""},
		{"bin/sh", tar.TypeSymlink, 0o777, 0, 0, "/bin/busybox"},
		{"tmp", tar.TypeDir, 0o1777, 0, 0, ""},
		{"root", tar.TypeDir, 0o700, 0, 0, ""},
		{"home/user", tar.TypeDir, 0o755, 1000, 1000, ""},
		{"etc/passwd", tar.TypeReg, 0o644, 0, 0, ""},
	}
	for _, c := range checks {
		f, ok := fsys[c.name]
		if !ok {
			t.Errorf("%s missing", c.name)
			continue
		}
		h := f.Header
		if h.Typeflag != c.typ || h.Mode != c.mode || h.Uid != c.uid || h.Gid != c.gid || h.Linkname != c.link || !h.ModTime.Equal(Epoch()) {
			t.Errorf("%s: type %q mode %o uid %d gid %d link %q mtime %v", c.name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Linkname, h.ModTime)
		}
	}
	if !strings.Contains(string(fsys["etc/group"].Data), "staff:x:50:user") {
		t.Errorf("etc/group = %q", fsys["etc/group"].Data)
	}

	bundle := UmociUnpack(t, dir, "latest")
	tests := []struct {
		name string
		args []string
		out  string
		code int
	}{
		{"echo", []string{"/bin/sh", "-c", "echo hello"}, "hello\n", 0},
		{"exit code", []string{"/bin/sh", "-c", "exit 3"}, "", 3},
		{"owners", []string{"/bin/sh", "-c", "stat -c '%a %u:%g' /tmp /root /home/user"}, "1777 0:0\n700 0:0\n755 1000:1000\n", 0},
		{"groups", []string{"/bin/sh", "-c", "id user"}, "uid=1000(user) gid=1000(user) groups=1000(user),50(staff)\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, code := RunRunc(t, bundle, tt.args...)
			if out != tt.out || code != tt.code {
				t.Errorf("runc %v = %q, %d; want %q, %d", tt.args, out, code, tt.out, tt.code)
			}
		})
	}
}

func TestMergeLayers(t *testing.T) {
	d := func(n string) TarEntry {
		return TarEntry{Header: tar.Header{Typeflag: tar.TypeDir, Name: n, Mode: 0o755}}
	}
	f := func(n, body string) TarEntry {
		return TarEntry{Header: tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o644}, Body: []byte(body)}
	}
	lower := BuildTar(t, []TarEntry{d("a/"), f("a/x", "1"), f("a/y", "2"), d("b/"), f("b/z", "3"), f("c", "4")})
	upper := BuildTar(t, []TarEntry{
		d("./a/"), f("a/.wh..wh..opq", ""), f("a/new", "5"),
		f("b/.wh.z", ""), f(".wh.c", ""), d("c/"),
	})
	got := MergeLayers(t, strings.NewReader(string(lower)), strings.NewReader(string(upper)))
	var names []string
	for n := range got {
		names = append(names, n)
	}
	want := map[string]bool{"a": true, "a/new": true, "b": true, "c": true}
	if len(got) != len(want) {
		t.Fatalf("merged = %v, want %v", names, want)
	}
	for n := range want {
		if _, ok := got[n]; !ok {
			t.Errorf("merged lacks %s (have %v)", n, names)
		}
	}
	if got["c"].Header.Typeflag != tar.TypeDir {
		t.Errorf("c should be a dir now")
	}
}

func TestLeakCheckFindsProcess(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("sleep", "60")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Between fork and exec the child has no cmdline yet: wait for the exec.
	var procs []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if procs = ProcessesUnder(dir); len(procs) == 1 && strings.Contains(procs[0], "sleep 60") {
			break
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if len(procs) != 1 || !strings.Contains(procs[0], "sleep 60") {
		t.Errorf("ProcessesUnder = %v, want the sleep", procs)
	}
	if left := ProcessesUnder(dir); len(left) != 0 {
		t.Errorf("after kill: %v", left)
	}
	if m := MountsUnder(dir); len(m) != 0 {
		t.Errorf("MountsUnder = %v", m)
	}
	// A tmpfs mounted under the dir is found.
	mnt := dir + "/mnt"
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", mnt, "tmpfs", 0, ""); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	found := MountsUnder(dir)
	if err := syscall.Unmount(mnt, 0); err != nil {
		t.Fatalf("unmount: %v", err)
	}
	if len(found) != 1 || found[0] != mnt {
		t.Errorf("MountsUnder = %v, want [%s]", found, mnt)
	}
}

// TestBusyboxMulti pushes the 2-platform busybox index and reads it back as
// a client would: an index with both platforms, whose arm64 image runs
// (through qemu's binfmt_misc handler) and says aarch64.
func TestBusyboxMulti(t *testing.T) {
	LeakCheck(t)
	NeedArm64(t)
	reg := StartRegistry(t)
	ref := PushBusyboxMulti(t, reg)
	raw := SkopeoInspect(t, "docker://"+ref, append(reg.SkopeoFlags(""), "--raw")...)
	var idx Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	var got []string
	for _, d := range idx.Manifests {
		got = append(got, d.Platform.OS+"/"+d.Platform.Architecture+"/"+d.Platform.Variant)
	}
	if idx.MediaType != MediaTypeIndex || strings.Join(got, ",") != "linux/amd64/,linux/arm64/v8" {
		t.Fatalf("index %s: platforms %v", idx.MediaType, got)
	}
	// The amd64 entry is the single-platform busybox image.
	if single := ReadLayout(t, BusyboxLayout(t), "latest"); idx.Manifests[0].Digest != single.ManifestDigest {
		t.Errorf("amd64 manifest %s, single-platform busybox %s", idx.Manifests[0].Digest, single.ManifestDigest)
	}
	dir := BusyboxMultiLayout(t)
	arm := ReadLayoutPlatform(t, dir, "latest", "arm64")
	if arm.Config.Architecture != "arm64" || arm.Config.Variant != "v8" || arm.Config.OS != "linux" {
		t.Errorf("arm64 config: %s/%s/%s", arm.Config.OS, arm.Config.Architecture, arm.Config.Variant)
	}
	root := t.TempDir()
	bin := arm.RootFS(t)["bin/busybox"].Data
	if err := os.MkdirAll(filepath.Join(root, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), bin, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("chroot", root, "/bin/busybox", "uname", "-m").CombinedOutput()
	if err != nil || string(out) != "aarch64\n" {
		t.Errorf("arm64 busybox uname -m = %q, %v", out, err)
	}
}
