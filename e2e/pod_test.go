package e2e_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
)

// TestUnprivilegedPod runs the builder inside a runc container set up like
// an unprivileged Kubernetes pod (Docker's default capabilities, no new
// privileges, a seccomp profile that refuses namespaces and mounts like
// moby's default, masked /proc) and builds an image with a RUN step at the
// chroot isolation level.
func TestUnprivilegedPod(t *testing.T) {
	testenv.LeakCheck(t)
	testenv.NeedTool(t, "runc")
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox-static is not installed")
	}
	bundle := t.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
	for _, d := range []struct {
		name string
		mode os.FileMode
	}{{"ctx", 0o755}, {"out", 0o755}, {"tmp", 0o1777}, {"etc", 0o755}, {"proc", 0o755},
		{"dev", 0o755}, {"sys", 0o755}, {"bin", 0o755}} {
		mkdir(t, filepath.Join(rootfs, d.name), d.mode)
	}
	copyInto(t, builderBin, filepath.Join(rootfs, "builder"), 0o755)
	copyLibs(t, builderBin, rootfs)
	copyInto(t, bb, filepath.Join(rootfs, "ctx/busybox"), 0o755)
	writeFile(t, filepath.Join(rootfs, "ctx/Dockerfile"), "FROM scratch\n"+
		"COPY busybox /bin/busybox\n"+
		`RUN ["/bin/busybox", "sh", "-c", "echo hi > /hi"]`+"\n")
	writeFile(t, filepath.Join(rootfs, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n")
	writeFile(t, filepath.Join(rootfs, "etc/group"), "root:x:0:\n")

	// The simulation holds: no namespace, no mount in the pod.
	writePodConfig(t, bundle, []string{"/ctx/busybox", "sh", "-c",
		"/ctx/busybox unshare -m true || echo no-unshare; " +
			"/ctx/busybox mkdir -p /tmp/m && /ctx/busybox mount -t tmpfs t /tmp/m || echo no-mount; " +
			"/ctx/busybox grep CapEff /proc/self/status"})
	if log, code := testenv.RunRunc(t, bundle); code != 0 || !strings.Contains(log, "no-unshare") ||
		!strings.Contains(log, "no-mount") || !strings.Contains(log, "CapEff:\t00000000a80425fb") {
		t.Fatalf("the pod simulation allows too much (exit %d):\n%s", code, log)
	}

	tests := []struct {
		name      string
		isolation string
		wantLevel string
	}{
		{"explicit chroot", "chroot", "chroot"},
		{"auto picks chroot", "auto", "chroot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := "/out/" + tt.isolation + ".tar"
			writePodConfig(t, bundle, []string{"/builder", "--root", "/tmp/root-" + tt.isolation,
				"build", "--progress", "plain", "--isolation", tt.isolation,
				"-o", "type=oci,dest=" + out, "/ctx"})
			log, code := testenv.RunRunc(t, bundle)
			if code != 0 {
				t.Fatalf("builder in the pod: exit %d\n%s", code, log)
			}
			if !strings.Contains(log, "isolation: "+tt.wantLevel) {
				t.Errorf("output does not report isolation %s:\n%s", tt.wantLevel, log)
			}
			layout := testenv.ExtractTar(t, filepath.Join(rootfs, out))
			img := testenv.ReadLayout(t, layout, "")
			layers := img.Layers(t)
			if len(layers) != 2 {
				t.Fatalf("image has %d layers, want 2", len(layers))
			}
			// The RUN layer holds exactly what the command wrote: no
			// /etc/hosts, /etc/resolv.conf or /dev nodes of the step.
			files := testenv.TarList(t, layers[1])
			if len(files) != 1 {
				var names []string
				for _, f := range files {
					names = append(names, f.Header.Name)
				}
				t.Fatalf("RUN layer has %v, want only hi", names)
			}
			h := files[0].Header
			if testenv.CleanTarName(h.Name) != "hi" || string(files[0].Data) != "hi\n" ||
				h.Mode&0o7777 != 0o644 || h.Uid != 0 || h.Gid != 0 {
				t.Errorf("RUN layer entry %s mode %o %d:%d %q, want hi 644 0:0 \"hi\\n\"",
					h.Name, h.Mode, h.Uid, h.Gid, files[0].Data)
			}
		})
	}
}

// TestUnprivilegedPodLimits checks that a limit the pod cannot apply (its
// cgroup file system is read-only) fails the RUN step clearly.
func TestUnprivilegedPodLimits(t *testing.T) {
	testenv.LeakCheck(t)
	testenv.NeedTool(t, "runc")
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox-static is not installed")
	}
	bundle := t.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
	for _, d := range []string{"ctx", "out", "tmp", "proc", "dev", "sys"} {
		mkdir(t, filepath.Join(rootfs, d), 0o755)
	}
	copyInto(t, builderBin, filepath.Join(rootfs, "builder"), 0o755)
	copyLibs(t, builderBin, rootfs)
	copyInto(t, bb, filepath.Join(rootfs, "ctx/busybox"), 0o755)
	writeFile(t, filepath.Join(rootfs, "ctx/Dockerfile"), "FROM scratch\n"+
		"COPY busybox /bin/busybox\n"+
		`RUN ["/bin/busybox", "true"]`+"\n")
	writePodConfig(t, bundle, []string{"/builder", "--root", "/tmp/root", "build", "--progress", "plain",
		"--isolation", "chroot", "--memory", "64m", "-o", "type=oci,dest=/out/img.tar", "/ctx"})
	log, code := testenv.RunRunc(t, bundle)
	if code == 0 || !strings.Contains(log, "resource limits are not available at the chroot isolation level") {
		t.Fatalf("builder --memory in the pod: exit %d, want a clear limits error:\n%s", code, log)
	}
}

// writePodConfig writes the config of a default unprivileged pod running args.
func writePodConfig(t *testing.T, bundle string, args []string) {
	t.Helper()
	testenv.WritePodConfig(t, bundle, testenv.Pod{Args: args})
}

func copyInto(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeFileMode(dst, data, mode); err != nil {
		t.Fatal(err)
	}
}

// copyLibs copies the shared libraries bin needs (if any) into rootfs.
func copyLibs(t *testing.T, bin, rootfs string) {
	t.Helper()
	out, err := exec.Command("ldd", bin).CombinedOutput()
	if err != nil {
		return // statically linked ("not a dynamic executable")
	}
	re := regexp.MustCompile(`(/\S+) \(0x`)
	for _, m := range re.FindAllStringSubmatch(string(out), -1) {
		copyInto(t, m[1], filepath.Join(rootfs, m[1]), 0o755)
	}
}
