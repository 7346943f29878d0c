package e2e_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/builderdev/builder/internal/testenv"
)

// builderImage is builder's own image (image/Dockerfile, what `make image`
// builds), made once per test run by image/build.sh with the test binary.
var builderImage struct {
	once sync.Once
	tar  string
	err  string
}

// builderImageTar returns the OCI tar of builder's own image, built by
// the test binary from a CGO_ENABLED=0 build of cmd/builder.
func builderImageTar(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"umoci", "runc", "newuidmap", "newgidmap"} {
		testenv.NeedTool(t, tool)
	}
	builderImage.once.Do(func() {
		root, err := repoRoot()
		if err != nil {
			builderImage.err = err.Error()
			return
		}
		dir, err := os.MkdirTemp("", "builder-e2e-image-")
		if err != nil {
			builderImage.err = err.Error()
			return
		}
		// Removed with the test binary's dir when the run ends; a leftover
		// here holds no mounts or processes.
		static := filepath.Join(dir, "builder-static")
		cmd := exec.Command("go", "build", "-trimpath", "-o", static, "./cmd/builder")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			builderImage.err = "static go build: " + err.Error() + "\n" + string(out)
			return
		}
		tar := filepath.Join(dir, "builder-image.tar")
		cmd = exec.Command(filepath.Join(root, "image", "build.sh"), builderBin, static, tar)
		cmd.Env = append(os.Environ(), "BUILDER_ROOT="+filepath.Join(dir, "root"), "SOURCE_DATE_EPOCH=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			builderImage.err = "image/build.sh: " + err.Error() + "\n" + string(out)
			return
		}
		builderImage.tar = tar
	})
	if builderImage.err != "" {
		t.Fatalf("build builder's image: %s", builderImage.err)
	}
	return builderImage.tar
}

// imagePod is a runc bundle whose root file system is builder's own
// image, unpacked with umoci.
type imagePod struct {
	bundle, rootfs string
	env            []string // the image's ENV, without HOME (the pod's user decides it)
}

// newImagePod unpacks builder's image into a fresh bundle and copies the
// busybox base layout to /workspace/busybox in it.
func newImagePod(t *testing.T) *imagePod {
	t.Helper()
	layout := testenv.ExtractTar(t, builderImageTar(t))
	p := &imagePod{bundle: testenv.UmociUnpack(t, layout, "latest")}
	p.rootfs = filepath.Join(p.bundle, "rootfs")
	var spec struct {
		Process struct {
			Env []string `json:"env"`
		} `json:"process"`
	}
	raw, err := os.ReadFile(filepath.Join(p.bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	for _, e := range spec.Process.Env {
		if !strings.HasPrefix(e, "HOME=") && !strings.HasPrefix(e, "TERM=") {
			p.env = append(p.env, e)
		}
	}
	if out, err := exec.Command("cp", "-a", testenv.BusyboxLayout(t), p.path("/workspace/busybox")).CombinedOutput(); err != nil {
		t.Fatalf("copy busybox layout: %v\n%s", err, out)
	}
	return p
}

// path is the host path of p inside the pod's root.
func (p *imagePod) path(inPod string) string { return filepath.Join(p.rootfs, inPod) }

// put copies a host dir into the pod's /workspace/NAME.
func (p *imagePod) put(t *testing.T, hostDir, name string) string {
	t.Helper()
	if out, err := exec.Command("cp", "-a", hostDir, p.path("/workspace/"+name)).CombinedOutput(); err != nil {
		t.Fatalf("copy %s into the pod: %v\n%s", hostDir, err, out)
	}
	return "/workspace/" + name
}

// chownWorkspace gives /workspace's content to uid:gid, as a volume
// mounted for a pod's user would be.
func (p *imagePod) chownWorkspace(t *testing.T, uid, gid string) {
	t.Helper()
	if out, err := exec.Command("chown", "-R", uid+":"+gid, p.path("/workspace")).CombinedOutput(); err != nil {
		t.Fatalf("chown workspace: %v\n%s", err, out)
	}
}

// run runs args in the pod described by pod (with the image's ENV, which
// pod.Env overrides) and returns the output and exit code.
func (p *imagePod) run(t *testing.T, pod testenv.Pod) (string, int) {
	t.Helper()
	env := append([]string(nil), pod.Env...)
	for _, e := range p.env {
		name, _, _ := strings.Cut(e, "=")
		set := false
		for _, o := range pod.Env {
			set = set || strings.HasPrefix(o, name+"=")
		}
		if !set {
			env = append(env, e)
		}
	}
	pod.Env = env
	if pod.Cwd == "" {
		pod.Cwd = "/workspace"
	}
	testenv.WritePodConfig(t, p.bundle, pod)
	return testenv.RunRuncTimeout(t, p.bundle, 10*time.Minute)
}
