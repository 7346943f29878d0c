package platform

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"linux/aarch64":   "linux/arm64",
		"linux/arm64/v8":  "linux/arm64",
		"linux/arm64":     "linux/arm64",
		"linux/x86_64":    "linux/amd64",
		"linux/amd64/v1":  "linux/amd64",
		"linux/amd64/v3":  "linux/amd64/v3",
		"linux/arm":       "linux/arm/v7",
		"linux/arm/7":     "linux/arm/v7",
		"linux/armhf":     "linux/arm/v7",
		"linux/armel":     "linux/arm/v6",
		"linux/arm/v6":    "linux/arm/v6",
		"Linux/i386":      "linux/386",
		"linux/riscv64":   "linux/riscv64",
		"linux/arm64/v9":  "linux/arm64/v9",
		"linux/ppc64le":   "linux/ppc64le",
		"linux/s390x":     "linux/s390x",
		"linux/mips64le":  "linux/mips64le",
		"linux/loong64":   "linux/loong64",
		"linux/arm/v5":    "linux/arm/v5",
		"linux/arm64/8":   "linux/arm64",
		"linux/amd64/":    "linux/amd64",
		"linux/arm/armv7": "linux/arm/armv7",
	} {
		parts := strings.SplitN(in, "/", 3)
		p := v1.Platform{OS: parts[0], Architecture: parts[1]}
		if len(parts) == 3 {
			p.Variant = parts[2]
		}
		if got := String(Normalize(p)); got != want {
			t.Errorf("Normalize(%s) = %s, want %s", in, got, want)
		}
	}
	if !Same(v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, v1.Platform{OS: "linux", Architecture: "arm64"}) {
		t.Error("arm64/v8 and arm64 differ")
	}
	if Same(v1.Platform{OS: "linux", Architecture: "arm", Variant: "v6"}, v1.Platform{OS: "linux", Architecture: "arm"}) {
		t.Error("arm/v6 and arm (v7) are the same")
	}
	if got := Dir(v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}); got != "linux_arm_v7" {
		t.Errorf("Dir = %s", got)
	}
}

func TestSelect(t *testing.T) {
	d := func(arch, variant string, hex byte) v1.Descriptor {
		return v1.Descriptor{Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat(string(hex), 64)},
			Platform: &v1.Platform{OS: "linux", Architecture: arch, Variant: variant}}
	}
	att := v1.Descriptor{Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("f", 64)}, Platform: &v1.Platform{OS: "unknown", Architecture: "unknown"}}
	im := &v1.IndexManifest{Manifests: []v1.Descriptor{att, d("amd64", "", 'a'), d("arm64", "v8", 'b'), d("arm", "v7", 'c')}}
	for want, hex := range map[string]byte{"arm64": 'b', "amd64": 'a', "arm": 'c'} {
		got, err := Select(im, v1.Platform{OS: "linux", Architecture: want})
		if err != nil || got.Digest.Hex[0] != hex {
			t.Errorf("Select(%s) = %v, %v", want, got.Digest, err)
		}
	}
	_, err := Select(im, v1.Platform{OS: "linux", Architecture: "s390x"})
	var nf *NotFoundError
	if !errors.As(err, &nf) || err.Error() != "no image for platform linux/s390x (the image has linux/amd64, linux/arm/v7, linux/arm64)" {
		t.Errorf("Select(s390x) error = %v", err)
	}
	single := &v1.IndexManifest{Manifests: []v1.Descriptor{{Digest: att.Digest}}}
	if _, err := Select(single, v1.Platform{OS: "linux", Architecture: "arm64"}); err != nil {
		t.Errorf("an index of one image without platform: %v", err)
	}
}

// writeHandlers makes a fake binfmt_misc dir.
func writeHandlers(t *testing.T, handlers map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{"status": "enabled\n", "register": ""}
	for k, v := range handlers {
		files[k] = v
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const (
	aarch64Handler = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n"
	armNoF         = "enabled\ninterpreter /usr/bin/qemu-arm\nflags: OC\noffset 0\nmagic 7f454c4601010100000000000000000002002800\nmask ffffffffffffff00fffffffffffffffffeffffff\n"
	s390xDisabled  = "disabled\ninterpreter /usr/bin/qemu-s390x\nflags: F\noffset 0\nmagic 7f454c4602020100000000000000000000020016\nmask ffffffffffffff00fffffffffffffffffffffffe\n"
	pythonHandler  = "enabled\ninterpreter /usr/bin/python3.11\nflags: \noffset 0\nmagic a70d0d0a\n"
)

func TestDetect(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the expectations are for an amd64 host")
	}
	dir := writeHandlers(t, map[string]string{"qemu-aarch64": aarch64Handler, "qemu-arm": armNoF, "qemu-s390x": s390xDisabled, "python3.11": pythonHandler})
	s, err := Detect(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Platforms(), ","); got != "linux/amd64,linux/386,linux/arm64" {
		t.Errorf("Platforms = %s", got)
	}
	arm64 := v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	if !s.CanRun(arm64) || s.Check(arm64, Host()) != nil {
		t.Error("arm64 through the F handler does not run")
	}
	arm := v1.Platform{OS: "linux", Architecture: "arm", Variant: "v7"}
	if err := s.Check(Host(), arm); err == nil || !strings.Contains(err.Error(), "qemu-arm is registered without the F flag") {
		t.Errorf("arm without F: %v", err)
	}
	s390x := v1.Platform{OS: "linux", Architecture: "s390x"}
	if err := s.Check(s390x); err == nil || !strings.Contains(err.Error(), "cannot run steps for linux/s390x on linux/amd64: no emulator; install qemu-user-static") {
		t.Errorf("disabled s390x: %v", err)
	}

	// binfmt_misc not mounted: only native platforms.
	s, err = Detect(filepath.Join(t.TempDir(), "none"))
	if err != nil || strings.Join(s.Platforms(), ",") != "linux/amd64,linux/386" {
		t.Fatalf("no binfmt_misc: %v %v", s.Platforms(), err)
	}
	if err := s.Check(arm64); err == nil || !strings.Contains(err.Error(), "install qemu-user-static") {
		t.Errorf("no binfmt_misc, arm64: %v", err)
	}
}

// TestDetectHost reads this machine's handlers: scripts/install-deps.sh
// registers qemu-user-static's, all with the F flag.
func TestDetectHost(t *testing.T) {
	if _, err := os.Stat(filepath.Join(BinfmtDir, "qemu-aarch64")); err != nil || runtime.GOARCH == "arm64" {
		t.Skip("no qemu-aarch64 handler here (scripts/install-deps.sh registers it)")
	}
	s, err := Detect(BinfmtDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"arm64", "arm"} {
		if !s.CanRun(v1.Platform{OS: "linux", Architecture: p}) {
			t.Errorf("cannot run %s here: %v", p, s.Platforms())
		}
	}
}
