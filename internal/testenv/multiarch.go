package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// BusyboxArm64Path is where scripts/install-deps.sh unpacks Debian's
// busybox-static:arm64 (downloaded, never installed).
const BusyboxArm64Path = "/var/cache/builder-test/busybox-arm64/bin/busybox"

// BinfmtAarch64 is qemu-user-static's binfmt_misc handler for arm64
// binaries, registered by scripts/install-deps.sh.
const BinfmtAarch64 = "/proc/sys/fs/binfmt_misc/qemu-aarch64"

// NeedArm64 fails the test when this machine cannot make or run the arm64
// busybox image: the arm64 binary or the qemu handler is missing.
func NeedArm64(t testing.TB) {
	t.Helper()
	if runtime.GOARCH != "amd64" {
		t.Skipf("the multi-platform tests expect an amd64 host, not %s", runtime.GOARCH)
	}
	for _, f := range []string{BusyboxArm64Path, BinfmtAarch64} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("%s is missing (run scripts/install-deps.sh as root): %v", f, err)
		}
	}
}

// BusyboxArm64Entries is BusyboxEntries with the arm64 busybox binary (same
// Debian version, so the same applets).
func BusyboxArm64Entries(t testing.TB) []TarEntry {
	t.Helper()
	NeedArm64(t)
	bin, err := os.ReadFile(BusyboxArm64Path)
	if err != nil {
		t.Fatalf("read arm64 busybox: %v", err)
	}
	entries := BusyboxEntries(t)
	for i := range entries {
		if entries[i].Header.Name == "bin/busybox" {
			entries[i].Body = bin
		}
	}
	return entries
}

// BusyboxArm64Config is BusyboxConfig for linux/arm64/v8.
func BusyboxArm64Config() map[string]any {
	cfg := BusyboxConfig()
	cfg["architecture"] = "arm64"
	cfg["variant"] = "v8"
	return cfg
}

// BusyboxMultiLayout writes the busybox image for linux/amd64 (the same
// manifest as BusyboxLayout) and linux/arm64/v8 as an OCI layout whose tag
// "latest" is a 2-platform image index, and returns the dir.
func BusyboxMultiLayout(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "busybox-multi")
	amd := WriteLayout(t, dir, "amd64", BusyboxConfig(), BuildTar(t, BusyboxEntries(t)))
	arm := WriteLayout(t, dir, "arm64", BusyboxArm64Config(), BuildTar(t, BusyboxArm64Entries(t)))
	amd.Annotations, arm.Annotations = nil, nil
	amd.Platform = &Platform{OS: "linux", Architecture: "amd64"}
	arm.Platform = &Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	idx := Index{SchemaVersion: 2, MediaType: MediaTypeIndex, Manifests: []Descriptor{amd, arm}}
	desc := writeBlob(t, dir, MediaTypeIndex, mustJSON(t, idx))
	desc.Annotations = map[string]string{refNameAnnotation: "latest"}
	top := Index{SchemaVersion: 2, MediaType: MediaTypeIndex, Manifests: []Descriptor{desc}}
	writeFile(t, filepath.Join(dir, "index.json"), mustJSON(t, top))
	return dir
}

// PushBusyboxMulti pushes BusyboxMultiLayout to reg as busybox:latest (an
// index of linux/amd64 and linux/arm64/v8) and returns the reference.
func PushBusyboxMulti(t testing.TB, reg *Registry) string {
	t.Helper()
	ref := reg.Ref("busybox:latest")
	Skopeo(t, append(append([]string{"copy", "--all"}, reg.SkopeoFlags("dest-")...),
		"oci:"+BusyboxMultiLayout(t)+":latest", "docker://"+ref)...)
	return ref
}

// DigestOf is the "sha256:…" digest of data (a manifest read with skopeo
// inspect --raw).
func DigestOf(data []byte) string { return digestOf(data) }
