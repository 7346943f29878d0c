package e2e_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
)

const smallDockerfile = `FROM busybox
COPY hello.txt /hello.txt
LABEL from=dockerfile
CMD ["cat", "/hello.txt"]
`

// smallContext writes a context with hello.txt (and Dockerfile when
// withDockerfile) and returns its dir.
func smallContext(t *testing.T, withDockerfile bool) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(dir, "hello.txt"), "hello e2e\n")
	if withDockerfile {
		writeFile(t, filepath.Join(dir, "Dockerfile"), smallDockerfile)
	}
	return dir
}

var imageID = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

func TestOutputs(t *testing.T) {
	testenv.LeakCheck(t)
	ctxDir := smallContext(t, true)
	root := newRoot(t)
	bb := busyboxContext(t)
	build := func(t *testing.T, output string) {
		t.Helper()
		mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", bb,
			"-t", "e2e-out:1", "-o", output, ctxDir)
	}
	t.Run("oci", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "img.tar")
		build(t, "type=oci,dest="+f)
		var info struct {
			Layers       []string
			Architecture string
			Os           string
			Labels       map[string]string
		}
		if err := json.Unmarshal(testenv.SkopeoInspect(t, "oci-archive:"+f), &info); err != nil {
			t.Fatal(err)
		}
		if len(info.Layers) != 2 || info.Os != "linux" || info.Architecture != goarch() || info.Labels["from"] != "dockerfile" {
			t.Errorf("skopeo inspect oci-archive = %+v", info)
		}
		layout := testenv.ExtractTar(t, f)
		img := testenv.ReadLayout(t, layout, "")
		if got := img.RootFS(t)["hello.txt"]; string(got.Data) != "hello e2e\n" || got.Header.Mode != 0o644 {
			t.Errorf("hello.txt in the oci output: %+v", got.Header)
		}
		testenv.TagLayout(t, layout, "e2e")
		out, code := testenv.RunRunc(t, testenv.UmociUnpack(t, layout, "e2e"))
		if out != "hello e2e\n" || code != 0 {
			t.Errorf("running the oci output: %q exit %d", out, code)
		}
	})
	t.Run("docker", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "img.tar")
		build(t, "type=docker,dest="+f)
		var info struct {
			Layers   []string
			RepoTags []string
		}
		if err := json.Unmarshal(testenv.SkopeoInspect(t, "docker-archive:"+f), &info); err != nil {
			t.Fatal(err)
		}
		if len(info.Layers) != 2 {
			t.Errorf("skopeo inspect docker-archive = %+v", info)
		}
		img, tags := testenv.ReadDockerArchive(t, f)
		if len(tags) != 1 || tags[0] != "e2e-out:1" {
			t.Errorf("RepoTags = %q, want [e2e-out:1]", tags)
		}
		if got := img.RootFS(t)["hello.txt"]; string(got.Data) != "hello e2e\n" {
			t.Errorf("hello.txt in the docker output = %q", got.Data)
		}
	})
	t.Run("local", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "out")
		build(t, "type=local,dest="+dir)
		data, err := os.ReadFile(filepath.Join(dir, "hello.txt"))
		if err != nil || string(data) != "hello e2e\n" {
			t.Errorf("local hello.txt = %q, %v", data, err)
		}
		fi, err := os.Stat(filepath.Join(dir, "bin", "busybox"))
		if err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("local bin/busybox: %v %v", fi, err)
		}
		if link, err := os.Readlink(filepath.Join(dir, "bin", "sh")); err != nil || link != "/bin/busybox" {
			t.Errorf("local bin/sh -> %q, %v", link, err)
		}
		fi, err = os.Stat(filepath.Join(dir, "tmp"))
		if err != nil || fi.Mode()&os.ModeSticky == 0 || fi.Mode().Perm() != 0o777 {
			t.Errorf("local tmp: %v %v", fi, err)
		}
	})
	t.Run("tar", func(t *testing.T) {
		f := filepath.Join(t.TempDir(), "rootfs.tar")
		build(t, "type=tar,dest="+f)
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		hdrs := testenv.TarHeaders(t, fh)
		if h := hdrs["hello.txt"]; h == nil || h.Mode != 0o644 || h.Uid != 0 {
			t.Errorf("rootfs tar hello.txt = %+v", h)
		}
		if h := hdrs["bin/sh"]; h == nil || h.Linkname != "/bin/busybox" {
			t.Errorf("rootfs tar bin/sh = %+v", h)
		}
		if h := hdrs["home/user"]; h == nil || h.Uid != 1000 || h.Gid != 1000 {
			t.Errorf("rootfs tar home/user = %+v", h)
		}
		for n := range hdrs {
			if strings.Contains(n, ".wh.") {
				t.Errorf("rootfs tar has whiteout %s", n)
			}
		}
	})
}

func TestIIDFileAndMetadata(t *testing.T) {
	testenv.LeakCheck(t)
	ctxDir := smallContext(t, true)
	root := newRoot(t)
	dir := t.TempDir()
	iid, meta := filepath.Join(dir, "iid"), filepath.Join(dir, "meta.json")
	r := mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", busyboxContext(t),
		"-t", "e2e-meta:1", "--iidfile", iid, "--metadata-file", meta,
		"--label", "org.example.flag=yes", "--platform", "linux/"+goarch(), ctxDir)
	img := testenv.ReadLayout(t, filepath.Join(root, "oci"), "e2e-meta:1")
	raw, err := os.ReadFile(iid)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(raw); got != img.Manifest.Config.Digest {
		t.Errorf("iidfile = %q, want the config digest %s", got, img.Manifest.Config.Digest)
	}
	var md map[string]any
	if err := json.Unmarshal(testenvRead(t, meta), &md); err != nil {
		t.Fatalf("metadata file: %v", err)
	}
	if md["containerimage.digest"] != img.ManifestDigest {
		t.Errorf("metadata containerimage.digest = %v, want %s", md["containerimage.digest"], img.ManifestDigest)
	}
	if md["containerimage.config.digest"] != img.Manifest.Config.Digest {
		t.Errorf("metadata containerimage.config.digest = %v, want %s", md["containerimage.config.digest"], img.Manifest.Config.Digest)
	}
	if name, _ := md["image.name"].(string); !strings.Contains(name, "e2e-meta:1") {
		t.Errorf("metadata image.name = %v", md["image.name"])
	}
	labels, _ := img.Config.Config["Labels"].(map[string]any)
	if labels["org.example.flag"] != "yes" || labels["from"] != "dockerfile" {
		t.Errorf("labels = %v", labels)
	}
	if !strings.Contains(r.stderr, "#") {
		t.Errorf("--progress plain printed no steps:\n%s", r.stderr)
	}
}

func TestQuietPrintsImageID(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	r := mustBuild(t, runOpts{}, "--root", root, "build", "-q", "--build-context", busyboxContext(t),
		"-t", "e2e-q:1", smallContext(t, true))
	id := strings.TrimSpace(r.stdout)
	if !imageID.MatchString(id) || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("-q stdout = %q, want one image ID line", r.stdout)
	}
	img := testenv.ReadLayout(t, filepath.Join(root, "oci"), "e2e-q:1")
	if id != img.Manifest.Config.Digest {
		t.Errorf("-q printed %s, config digest is %s", id, img.Manifest.Config.Digest)
	}
}

func TestDockerfileFromStdin(t *testing.T) {
	testenv.LeakCheck(t)
	out := filepath.Join(t.TempDir(), "img.tar")
	mustBuild(t, runOpts{stdin: smallDockerfile}, "--root", newRoot(t), "build", "--progress", "plain",
		"--build-context", busyboxContext(t), "-f", "-", "-o", "type=oci,dest="+out, smallContext(t, false))
	img := testenv.ReadLayout(t, testenv.ExtractTar(t, out), "")
	if got := string(img.RootFS(t)["hello.txt"].Data); got != "hello e2e\n" {
		t.Errorf("hello.txt = %q", got)
	}
}

func TestStoreCommands(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", busyboxContext(t),
		"-t", "e2e-a:1", "-t", "e2e-a:2", smallContext(t, true))
	images := mustBuild(t, runOpts{}, "--root", root, "images")
	for _, tag := range []string{"1", "2"} {
		if !listsImage(images.stdout, "e2e-a", tag) {
			t.Errorf("images does not list e2e-a:%s:\n%s", tag, images.stdout)
		}
	}
	// The store is a real OCI layout: skopeo reads it.
	var info struct{ Labels map[string]string }
	if err := json.Unmarshal(testenv.SkopeoInspect(t, "oci:"+filepath.Join(root, "oci")+":e2e-a:2"), &info); err != nil {
		t.Fatal(err)
	}
	if info.Labels["from"] != "dockerfile" {
		t.Errorf("skopeo inspect of the store: %+v", info)
	}
	mustBuild(t, runOpts{}, "--root", root, "rm", "e2e-a:1")
	images = mustBuild(t, runOpts{}, "--root", root, "images")
	if listsImage(images.stdout, "e2e-a", "1") || !listsImage(images.stdout, "e2e-a", "2") {
		t.Errorf("after rm e2e-a:1, images:\n%s", images.stdout)
	}
	if r := runBuilder(t, runOpts{}, "--root", root, "rm", "e2e-a:1"); r.code == 0 {
		t.Errorf("rm of a missing tag succeeded:\n%s", r)
	}
	v := mustBuild(t, runOpts{}, "version")
	if strings.TrimSpace(v.stdout) == "" {
		t.Errorf("version printed nothing")
	}
}

// listsImage reports whether `builder images` output names repo:tag, as
// one field or as REPOSITORY and TAG columns.
func listsImage(out, repo, tag string) bool {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		for i, w := range f {
			if w == repo+":"+tag || (w == repo && i+1 < len(f) && f[i+1] == tag) {
				return true
			}
		}
	}
	return false
}

func TestCacheReuse(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	ctxDir := smallContext(t, true)
	bb := busyboxContext(t)
	dir := t.TempDir()
	build := func(name string, extra ...string) (string, result) {
		iid := filepath.Join(dir, name)
		args := append([]string{"--root", root, "build", "--progress", "plain", "--build-context", bb, "--iidfile", iid}, extra...)
		r := mustBuild(t, runOpts{}, append(args, ctxDir)...)
		return string(testenvRead(t, iid)), r
	}
	first, _ := build("first")
	second, r2 := build("second")
	if second != first {
		t.Errorf("rebuild without changes gave image %s, first was %s", second, first)
	}
	if !strings.Contains(r2.stderr, "CACHED") {
		t.Errorf("second build shows no CACHED step:\n%s", r2.stderr)
	}
	_, r3 := build("nocache", "--no-cache")
	if strings.Contains(r3.stderr, "CACHED") {
		t.Errorf("--no-cache build used the cache:\n%s", r3.stderr)
	}
	writeFile(t, filepath.Join(ctxDir, "hello.txt"), "changed\n")
	changed, _ := build("changed")
	if changed == first {
		t.Errorf("changing a copied file did not change the image")
	}
}

func TestFromAuthRegistry(t *testing.T) {
	tests := []struct {
		name string
		opt  testenv.RegistryOption
	}{
		{"basic", testenv.WithBasicAuth("e2e", "pa55word")},
		{"token", testenv.WithTokenAuth("e2e", "t0ken")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			testenv.LeakCheck(t)
			reg := testenv.StartRegistry(t, tt.opt)
			ref := testenv.PushBusybox(t, reg)
			ctxDir := smallContext(t, false)
			writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM "+ref+"\nCOPY hello.txt /hello.txt\n")
			out := filepath.Join(t.TempDir(), "img.tar")
			env := []string{"DOCKER_CONFIG=" + reg.DockerConfigDir(t), "SSL_CERT_FILE=" + reg.CAFile}
			mustBuild(t, runOpts{env: env}, "--root", newRoot(t), "build", "--progress", "plain",
				"-o", "type=oci,dest="+out, ctxDir)
			img := testenv.ReadLayout(t, testenv.ExtractTar(t, out), "")
			if len(img.LayerFiles) != 2 || string(img.RootFS(t)["hello.txt"].Data) != "hello e2e\n" {
				t.Errorf("image from %s: %d layers", ref, len(img.LayerFiles))
			}
			// Without credentials the pull fails.
			r := runBuilder(t, runOpts{env: []string{"SSL_CERT_FILE=" + reg.CAFile}}, "--root", newRoot(t), "build",
				"--progress", "plain", "-o", "type=oci,dest="+out+"2", ctxDir)
			if r.code == 0 {
				t.Errorf("build without credentials succeeded")
			}
		})
	}
}

func testenvRead(t testing.TB, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("read %s: %v", file, err)
	}
	return b
}
