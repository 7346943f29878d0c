package e2e_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
)

// multiBusyboxContext is the --build-context flag that makes `FROM
// busybox` the 2-platform (linux/amd64, linux/arm64/v8) busybox index.
func multiBusyboxContext(t *testing.T) string {
	t.Helper()
	testenv.NeedArm64(t)
	return "busybox=oci-layout://" + testenv.BusyboxMultiLayout(t) + ":latest"
}

const unameDockerfile = `FROM busybox
ARG TARGETARCH TARGETPLATFORM BUILDARCH
RUN uname -m > /arch && echo "$TARGETPLATFORM $TARGETARCH $BUILDARCH" > /args
`

// jsonStarted counts, by name, the steps a --progress json build started.
func jsonStarted(t *testing.T, stderr string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, line := range strings.Split(stderr, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var e jsonEvent
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("decode %q: %v", line, err)
		}
		if e.Status == "started" {
			out[e.Name]++
		}
	}
	return out
}

// readIndexTar reads an OCI tar of a multi-platform build: its index's
// platforms, and each platform's image.
func readIndexTar(t *testing.T, tarFile string) (string, map[string]*testenv.Image) {
	t.Helper()
	dir := testenv.ExtractTar(t, tarFile)
	var top testenv.Index
	if err := json.Unmarshal(testenvRead(t, filepath.Join(dir, "index.json")), &top); err != nil {
		t.Fatal(err)
	}
	if len(top.Manifests) != 1 || top.Manifests[0].MediaType != testenv.MediaTypeIndex {
		t.Fatalf("index.json %+v: want one image index", top)
	}
	d := top.Manifests[0].Digest
	var idx testenv.Index
	if err := json.Unmarshal(testenvRead(t, filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(d, "sha256:"))), &idx); err != nil {
		t.Fatal(err)
	}
	var plats []string
	imgs := map[string]*testenv.Image{}
	for _, m := range idx.Manifests {
		p := m.Platform.OS + "/" + m.Platform.Architecture
		if m.Platform.Variant != "" {
			p += "/" + m.Platform.Variant
		}
		plats = append(plats, p)
		imgs[m.Platform.Architecture] = testenv.ReadLayoutPlatform(t, dir, "", m.Platform.Architecture)
	}
	return strings.Join(plats, ","), imgs
}

// TestMultiPlatformRun builds RUN uname -m for linux/amd64 and linux/arm64
// in one build (the arm64 one through qemu's binfmt_misc handler): an OCI
// index with both platforms, each image with its architecture and what
// its RUN saw; the local store tag names the index; a rebuild runs
// nothing; type=docker refuses, type=local and type=tar write a directory
// per platform.
func TestMultiPlatformRun(t *testing.T) {
	testenv.LeakCheck(t)
	bb := multiBusyboxContext(t)
	root := newRoot(t)
	ctxDir := t.TempDir()
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), unameDockerfile)
	out := filepath.Join(t.TempDir(), "multi.tar")
	r := mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", bb,
		"--platform", "linux/amd64,linux/arm64", "-t", "multi", "-o", "type=oci,dest="+out, ctxDir)
	if ran, _ := ranCached(t, r); ran != 2 {
		t.Errorf("%d steps run, want 2 (one RUN per platform):\n%s", ran, r.stderr)
	}
	plats, imgs := readIndexTar(t, out)
	if plats != "linux/amd64,linux/arm64" {
		t.Fatalf("index platforms %s", plats)
	}
	// The configs keep the base image's variant (arm64/v8), as BuildKit's
	// do; the index names the platforms normalised.
	for arch, want := range map[string][3]string{
		"amd64": {"x86_64\n", "linux/amd64 amd64 amd64\n", ""},
		"arm64": {"aarch64\n", "linux/arm64 arm64 amd64\n", "v8"},
	} {
		img := imgs[arch]
		if img.Config.Architecture != arch || img.Config.OS != "linux" || img.Config.Variant != want[2] {
			t.Errorf("%s config: %s/%s/%s", arch, img.Config.OS, img.Config.Architecture, img.Config.Variant)
		}
		fs := img.RootFS(t)
		if got := string(fs["arch"].Data); got != want[0] {
			t.Errorf("%s: /arch = %q, want %q", arch, got, want[0])
		}
		if got := string(fs["args"].Data); got != want[1] {
			t.Errorf("%s: /args = %q, want %q", arch, got, want[1])
		}
	}

	// The store's tag names the index.
	ls := mustBuild(t, runOpts{}, "--root", root, "images")
	if !strings.Contains(ls.stdout, "linux/amd64,linux/arm64") || !strings.HasPrefix(strings.Split(ls.stdout, "\n")[1], "multi:latest") {
		t.Errorf("builder images:\n%s", ls.stdout)
	}

	// Nothing changed: nothing runs, the index is the same.
	out2 := filepath.Join(t.TempDir(), "again.tar")
	r = mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", bb,
		"--platform", "linux/amd64,linux/arm64", "-o", "type=oci,dest="+out2, ctxDir)
	if ran, cached := ranCached(t, r); ran != 0 || cached != 2 {
		t.Errorf("rebuild: %d run, %d cached; want 0 and 2:\n%s", ran, cached, r.stderr)
	}
	if p2, imgs2 := readIndexTar(t, out2); p2 != plats || imgs2["arm64"].ManifestDigest != imgs["arm64"].ManifestDigest {
		t.Errorf("rebuild gave another image: %s %s", p2, imgs2["arm64"].ManifestDigest)
	}

	// type=docker cannot hold an index: refused before any step.
	r = runBuilder(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", bb,
		"--platform", "linux/amd64,linux/arm64", "-o", "type=docker,dest="+filepath.Join(t.TempDir(), "d.tar"), ctxDir)
	if r.code != 2 || !strings.Contains(r.stderr, "type=docker") || !strings.Contains(r.stderr, "linux/amd64, linux/arm64") || strings.Contains(r.stderr, "] FROM") {
		t.Errorf("type=docker with 2 platforms:\n%s", r)
	}

	// type=local and type=tar: one directory per platform.
	local := filepath.Join(t.TempDir(), "local")
	tarOut := filepath.Join(t.TempDir(), "fs.tar")
	mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", bb,
		"--platform", "linux/amd64,linux/arm64", "-o", "type=local,dest="+local, "-o", "type=tar,dest="+tarOut, ctxDir)
	for dir, want := range map[string]string{"linux_amd64": "x86_64\n", "linux_arm64": "aarch64\n"} {
		b, err := os.ReadFile(filepath.Join(local, dir, "arch"))
		if err != nil || string(b) != want {
			t.Errorf("type=local %s/arch = %q, %v", dir, b, err)
		}
	}
	f, err := os.Open(tarOut)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := testenv.TarFiles(t, f)
	if string(files["linux_arm64/arch"].Data) != "aarch64\n" || string(files["linux_amd64/arch"].Data) != "x86_64\n" || files["linux_arm64/bin/busybox"].Header == nil {
		var names []string
		for n := range files {
			if !strings.Contains(n, "/bin/") {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		t.Errorf("type=tar entries: %v", names)
	}
}

// crossDockerfile is the cross-compile pattern: a builder stage pinned to
// the build platform that writes one file per target architecture, then a
// final stage per platform that takes its own.
const crossDockerfile = `FROM --platform=$BUILDPLATFORM busybox AS build
ARG BUILDPLATFORM
RUN mkdir /out && for a in amd64 arm64; do echo "$a built on $BUILDPLATFORM $(uname -m)" > /out/$a; done

FROM busybox AS final-amd64
COPY --from=build /out/amd64 /built

FROM busybox AS final-arm64
COPY --from=build /out/arm64 /built

FROM final-$TARGETARCH
ARG TARGETARCH
RUN echo "$TARGETARCH $(uname -m)" > /target
`

// TestCrossCompileStageOnce: the stage pinned with FROM
// --platform=$BUILDPLATFORM runs once, natively, for both platforms; the
// per-platform stages run once each.
func TestCrossCompileStageOnce(t *testing.T) {
	testenv.LeakCheck(t)
	bb := multiBusyboxContext(t)
	root := newRoot(t)
	ctxDir := t.TempDir()
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), crossDockerfile)
	out := filepath.Join(t.TempDir(), "cross.tar")
	r := mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "json", "--build-context", bb,
		"--platform", "linux/amd64,linux/arm64", "-o", "type=oci,dest="+out, ctxDir)
	started := jsonStarted(t, r.stderr)
	var builds, finals, copies []string
	for name, n := range started {
		for i := 0; i < n; i++ {
			switch {
			case strings.Contains(name, "RUN mkdir /out"):
				builds = append(builds, name)
			case strings.Contains(name, "RUN echo"):
				finals = append(finals, name)
			case strings.Contains(name, "COPY --from=build"):
				copies = append(copies, name)
			}
		}
	}
	sort.Strings(finals)
	if len(builds) != 1 || !strings.HasPrefix(builds[0], "[linux/amd64 build ") {
		t.Errorf("the build stage's RUN started %v, want once as [linux/amd64 build ...]", builds)
	}
	if len(finals) != 2 || !strings.HasPrefix(finals[0], "[linux/amd64 ") || !strings.HasPrefix(finals[1], "[linux/arm64 ") {
		t.Errorf("final RUN started %v, want once per platform", finals)
	}
	if len(copies) != 2 {
		t.Errorf("COPY --from=build started %v, want once per platform (final-amd64 and final-arm64)", copies)
	}
	_, imgs := readIndexTar(t, out)
	for arch, want := range map[string][2]string{
		"amd64": {"amd64 built on linux/amd64 x86_64\n", "amd64 x86_64\n"},
		"arm64": {"arm64 built on linux/amd64 x86_64\n", "arm64 aarch64\n"},
	} {
		fs := imgs[arch].RootFS(t)
		if got := string(fs["built"].Data); got != want[0] {
			t.Errorf("%s /built = %q, want %q", arch, got, want[0])
		}
		if got := string(fs["target"].Data); got != want[1] {
			t.Errorf("%s /target = %q, want %q", arch, got, want[1])
		}
	}
}

// TestMultiPlatformPush pushes a 2-platform build (without the default
// provenance, so that the index is the images alone; see
// TestRunPlatformAttestations for attestations) (base image from the
// registry as an index) with its cache: skopeo reads an OCI index with
// both platforms, --digest-file names it; oci-mediatypes=false gives a
// Docker manifest list; a fresh store with --cache-from runs nothing.
func TestMultiPlatformPush(t *testing.T) {
	testenv.LeakCheck(t)
	testenv.NeedArm64(t)
	reg := testenv.StartRegistry(t)
	base := testenv.PushBusyboxMulti(t, reg)
	ctxDir := t.TempDir()
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), strings.Replace(unameDockerfile, "FROM busybox", "FROM "+base, 1))
	ref := reg.Ref("e2e/multi") + ":v1"
	cacheRef := reg.Ref("e2e/multi-cache") + ":c"
	digestFile := filepath.Join(t.TempDir(), "digest")
	root := newRoot(t)
	mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--insecure-registry", reg.Host(),
		"--platform", "linux/amd64,linux/arm64", "--push", "-t", ref, "--digest-file", digestFile, "--provenance=false",
		"--cache-to", "type=registry,ref="+cacheRef, ctxDir)
	raw := testenv.SkopeoInspect(t, "docker://"+ref, "--tls-verify=false", "--raw")
	var idx testenv.Index
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	var plats []string
	for _, m := range idx.Manifests {
		plats = append(plats, m.Platform.OS+"/"+m.Platform.Architecture)
	}
	if idx.MediaType != testenv.MediaTypeIndex || strings.Join(plats, ",") != "linux/amd64,linux/arm64" {
		t.Errorf("pushed %s with %v:\n%s", idx.MediaType, plats, raw)
	}
	if d := strings.TrimSpace(string(testenvRead(t, digestFile))); d != testenv.DigestOf(raw) {
		t.Errorf("--digest-file %s, registry index %s", d, testenv.DigestOf(raw))
	}
	cfg := testenv.SkopeoInspect(t, "docker://"+ref, "--tls-verify=false", "--override-arch", "arm64", "--config")
	if !strings.Contains(string(cfg), `"architecture": "arm64"`) {
		t.Errorf("arm64 config: %s", cfg)
	}

	// builder push of the local tag pushes the same index.
	again := reg.Ref("e2e/multi-again") + ":v1"
	mustBuild(t, runOpts{}, "--root", root, "push", "--insecure-registry", reg.Host(), ref, again)
	if raw2 := testenv.SkopeoInspect(t, "docker://"+again, "--tls-verify=false", "--raw"); testenv.DigestOf(raw2) != testenv.DigestOf(raw) {
		t.Errorf("builder push gave index %s, the build pushed %s", testenv.DigestOf(raw2), testenv.DigestOf(raw))
	}

	// A Docker manifest list.
	ref2 := reg.Ref("e2e/multi-docker") + ":v1"
	r := mustBuild(t, runOpts{}, "--root", newRoot(t), "build", "--progress", "plain", "--insecure-registry", reg.Host(),
		"--platform", "linux/amd64,linux/arm64", "--cache-from", "type=registry,ref="+cacheRef, "--provenance=false",
		"-o", "type=image,name="+ref2+",push=true,oci-mediatypes=false", ctxDir)
	if ran, cached := ranCached(t, r); ran != 0 || cached != 2 {
		t.Errorf("build with the pushed cache: %d run, %d cached; want 0 and 2:\n%s", ran, cached, r.stderr)
	}
	if err := json.Unmarshal(testenv.SkopeoInspect(t, "docker://"+ref2, "--tls-verify=false", "--raw"), &idx); err != nil {
		t.Fatal(err)
	}
	if idx.MediaType != testenv.MediaTypeDockerList || len(idx.Manifests) != 2 || idx.Manifests[1].MediaType != testenv.MediaTypeDockerManifest {
		t.Errorf("oci-mediatypes=false pushed %+v", idx)
	}
}

// TestPlatformErrors: a base image without the platform names those it
// has; builder info lists the emulated platforms.
func TestPlatformErrors(t *testing.T) {
	testenv.LeakCheck(t)
	bb := multiBusyboxContext(t)
	ctxDir := t.TempDir()
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), unameDockerfile)
	r := runBuilder(t, runOpts{}, "--root", newRoot(t), "build", "--progress", "plain", "--build-context", bb,
		"--platform", "linux/amd64,linux/s390x", ctxDir)
	if r.code != 1 || !strings.Contains(r.stderr, "Dockerfile:1") || !strings.Contains(r.stderr, "no image for platform linux/s390x (the image has linux/amd64, linux/arm64)") {
		t.Errorf("missing platform:\n%s", r)
	}
	info := mustBuild(t, runOpts{}, "--root", newRoot(t), "info")
	for _, want := range []string{"linux/amd64      native", "linux/arm64      emulated, binfmt_misc qemu-aarch64", "Isolation:"} {
		if !strings.Contains(info.stdout, want) {
			t.Errorf("builder info lacks %q:\n%s", want, info.stdout)
		}
	}
}
