package e2e_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/builderdev/builder/internal/testenv"
)

// rootlessDockerfile uses every RUN mount type, a chown to ids other than
// the user's, COPY --from and --network=none.
const rootlessDockerfile = `FROM busybox AS base
RUN echo hi > /hi && mkdir /owned && echo f > /owned/f && chown -R 1001:1002 /owned && id -u > /uid
FROM busybox
COPY --from=base /hi /owned/f /from/
RUN --mount=type=cache,target=/cache echo run >> /cache/log && cp /cache/log /cachelog
RUN --mount=type=tmpfs,target=/t touch /t/y && grep -q ' /t tmpfs' /proc/mounts && echo tmpfs > /tmpfs
RUN --mount=type=secret,id=s,required=true sha256sum /run/secrets/s | cut -c1-64 > /secret.sum
RUN --mount=type=bind,from=base,source=/owned,target=/b stat -c '%u:%g' /b/f > /bindowner && cat /b/f > /bindfile
RUN --network=none ls /sys/class/net > /nets
RUN ls /sys/class/net > /hostnets
RUN mkdir /c && touch /c/a && chown 1001:1002 /c/a
`

// A plain user with a subordinate range builds with no isolation flag:
// auto picks rootless, the store is in ~/.local/share/builder, RUN runs as
// root of a user namespace, and the layers record container ids.
func TestRootlessBuild(t *testing.T) {
	u := newRootlessUser(t, true)
	ctxDir := u.mkdir(t, "ctx")
	u.write(t, "ctx/Dockerfile", rootlessDockerfile)
	secret := u.write(t, "secret", "s3cret\n")
	out := u.mkdir(t, "out")
	r := u.build(t, nil, "-t", "app", "--secret", "id=s,src="+secret,
		"-o", "type=oci,dest="+filepath.Join(out, "img.tar"), ctxDir)
	if r.code != 0 {
		t.Fatalf("rootless build failed:\n%s", r)
	}
	if !strings.Contains(r.stderr, "isolation: rootless, snapshotter: overlay") {
		t.Errorf("no rootless info line:\n%s", r.stderr)
	}
	if strings.Contains(r.stderr, "chown to other ids will fail") {
		t.Errorf("a user with a range is told chown fails:\n%s", r.stderr)
	}
	img := testenv.ReadLayout(t, testenv.ExtractTar(t, filepath.Join(out, "img.tar")), "")
	files := img.RootFS(t)
	want := map[string]string{
		"from/hi": "hi\n", "from/f": "f\n", "cachelog": "run\n", "tmpfs": "tmpfs\n",
		"bindowner": "1001:1002\n", "bindfile": "f\n", "nets": "lo\n",
	}
	for name, data := range want {
		f, ok := files[name]
		if !ok {
			t.Errorf("image has no /%s", name)
			continue
		}
		if data != "" && string(f.Data) != data {
			t.Errorf("/%s = %q, want %q", name, f.Data, data)
		}
	}
	const secretSum = "82ba9d712d21dc7585dd6a1f29790679985547f009baee10ea2e3edd41ce957d\n" // of "s3cret\n"
	if sum := string(files["secret.sum"].Data); sum != secretSum {
		t.Errorf("/secret.sum = %q, want %q", sum, secretSum)
	}
	// The default network is the host's (its /sys bound read-only).
	if nets := strings.Fields(string(files["hostnets"].Data)); len(nets) < 2 {
		t.Errorf("host network step sees interfaces %q, want the host's", nets)
	}
	if _, ok := files["run/secrets/s"]; ok {
		t.Error("the secret is in the image")
	}
	if _, ok := files["t/y"]; ok {
		t.Error("the tmpfs content is in the image")
	}
	// Layer tar headers carry container ids, not the mapped host ids
	// (COPY --from keeps the source's owner, as BuildKit does).
	for _, name := range []string{"c/a", "from/f"} {
		f, ok := files[name]
		if !ok {
			t.Fatalf("image has no /%s", name)
		}
		wantUID, wantGID := 1001, 1002
		if f.Header.Uid != wantUID || f.Header.Gid != wantGID {
			t.Errorf("/%s is %d:%d in the layer, want %d:%d", name, f.Header.Uid, f.Header.Gid, wantUID, wantGID)
		}
	}
	// The store is the user's default one, and the tag is in it.
	store := filepath.Join(u.dir, "home", ".local", "share", "builder")
	r = u.run(t, nil, u.bin, "images")
	if r.code != 0 || !strings.Contains(r.stdout, "app") {
		t.Errorf("builder images as the user:\n%s", r)
	}
	if fi, err := statOwner(store); err != nil || fi != u.uid {
		t.Errorf("store %s: owner %d, %v; want %d", store, fi, err, u.uid)
	}
	// A second build reuses the cache mount and its cached steps.
	u.write(t, "ctx/Dockerfile", rootlessDockerfile+"RUN --mount=type=cache,target=/cache cp /cache/log /cachelog2\n")
	r = u.build(t, nil, "-t", "app", "--secret", "id=s,src="+secret,
		"-o", "type=oci,dest="+filepath.Join(out, "img2.tar"), ctxDir)
	if r.code != 0 {
		t.Fatalf("second rootless build failed:\n%s", r)
	}
	if n := strings.Count(r.stderr, "CACHED"); n < 5 {
		t.Errorf("second build cached %d steps, want at least 5:\n%s", n, r.stderr)
	}
	files2 := testenv.ReadLayout(t, testenv.ExtractTar(t, filepath.Join(out, "img2.tar")), "").RootFS(t)
	if got := string(files2["cachelog2"].Data); got != "run\n" {
		t.Errorf("cache mount of the second build holds %q, want the first build's %q", got, "run\n")
	}
	// The store holds files of the user's subordinate ids; the user's
	// builder prunes them (it works in the same user namespace).
	r = u.run(t, nil, u.bin, "prune", "-a", "-f")
	if r.code != 0 {
		t.Errorf("prune as the user:\n%s", r)
	}
}

// SIGINT to a rootless builder (the process outside the user namespace)
// reaches the build inside: exit 130, the step's processes are gone.
func TestRootlessInterrupt(t *testing.T) {
	u := newRootlessUser(t, true)
	mark := "ROOTLESS_MARK=" + filepath.Base(u.dir)
	u.write(t, "ctx/Dockerfile", "FROM busybox\nARG ROOTLESS_MARK\nRUN echo started && sleep 100 & sleep 100\n")
	cmd := exec.Command("setpriv", "--reuid="+strconv.Itoa(u.uid), "--regid="+strconv.Itoa(u.gid), "--init-groups", "--",
		u.bin, "build", "--progress", "plain", "--build-context", u.busybox, "--build-arg", mark, filepath.Join(u.dir, "ctx"))
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + filepath.Join(u.dir, "home")}
	stderr := startUntil(t, cmd, "started")
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("interrupted rootless build: %v, want exit 130:\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "interrupted while running") {
		t.Errorf("no interrupted message:\n%s", stderr.String())
	}
	for i := 0; ; i++ {
		left := processesWithEnv(mark)
		if len(left) == 0 {
			break
		}
		if i == 40 {
			t.Fatalf("processes of the step left: %v", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// layerDigests builds dockerfile reproducibly into an OCI tar with run
// (as root or as a user) and returns the image's layer digests.
func layerDigests(t *testing.T, img *testenv.Image) []string {
	t.Helper()
	var out []string
	for _, l := range img.Manifest.Layers {
		out = append(out, l.Digest)
	}
	return out
}

// The same Dockerfile gives byte-identical layers at the namespace level
// (root) and at the rootless level (a user with a range).
func TestRootlessLayersEqualNamespace(t *testing.T) {
	u := newRootlessUser(t, true)
	const df = `FROM busybox
RUN mkdir -p /app/data && echo x > /app/data/x && chown -R 1001:1002 /app && ln -s data/x /app/link && ln /app/data/x /app/hard
RUN rm -rf /etc/group /home && echo 'app:x:1001:1002::/app:/bin/sh' >> /etc/passwd
RUN --mount=type=cache,target=/c mkdir -p /o && touch /o/a /o/b && chown 1003:1004 /o/b && chmod 4755 /o/a
`
	u.write(t, "ctx/Dockerfile", df)
	ctxDir := filepath.Join(u.dir, "ctx")
	env := []string{"SOURCE_DATE_EPOCH=1700000000"}

	rootOut := filepath.Join(t.TempDir(), "img.tar")
	r := mustBuild(t, runOpts{env: env}, "--root", newRoot(t), "build", "--progress", "plain",
		"--isolation", "namespace", "--build-context", busyboxContext(t),
		"-o", "type=oci,dest="+rootOut+",rewrite-timestamp=true", ctxDir)
	if !strings.Contains(r.stderr, "isolation: namespace") {
		t.Fatalf("root build not at the namespace level:\n%s", r.stderr)
	}
	userOut := filepath.Join(u.mkdir(t, "out"), "img.tar")
	r = u.build(t, env, "-o", "type=oci,dest="+userOut+",rewrite-timestamp=true", ctxDir)
	if r.code != 0 || !strings.Contains(r.stderr, "isolation: rootless") {
		t.Fatalf("rootless build:\n%s", r)
	}
	rootImg := testenv.ReadLayout(t, testenv.ExtractTar(t, rootOut), "")
	userImg := testenv.ReadLayout(t, testenv.ExtractTar(t, userOut), "")
	a, b := layerDigests(t, rootImg), layerDigests(t, userImg)
	if strings.Join(a, " ") != strings.Join(b, " ") {
		t.Errorf("layers differ:\nnamespace %v\nrootless  %v", a, b)
	}
	if rootImg.ManifestDigest != userImg.ManifestDigest {
		t.Errorf("image digests differ: namespace %s, rootless %s", rootImg.ManifestDigest, userImg.ManifestDigest)
	}
	files := userImg.RootFS(t)
	if f := files["o/b"]; f.Header == nil || f.Header.Uid != 1003 || f.Header.Gid != 1004 {
		t.Errorf("/o/b in the rootless layer: %+v", f.Header)
	}
}

// Without a subordinate range the user alone is mapped: the build says so
// once, runs what needs no other id, and a chown to another id fails.
func TestRootlessNoSubIDs(t *testing.T) {
	u := newRootlessUser(t, false)
	u.write(t, "ctx/Dockerfile", "FROM busybox\nRUN echo ok > /ok && id -u > /uid\n")
	out := u.mkdir(t, "out")
	r := u.build(t, nil, "-o", "type=oci,dest="+filepath.Join(out, "img.tar"), filepath.Join(u.dir, "ctx"))
	if r.code != 0 {
		t.Fatalf("build without a range failed:\n%s", r)
	}
	if n := strings.Count(r.stderr, "chown to other ids will fail"); n != 1 {
		t.Errorf("the missing range is said %d times, want once:\n%s", n, r.stderr)
	}
	if !strings.Contains(r.stderr, "isolation: rootless") {
		t.Errorf("not rootless:\n%s", r.stderr)
	}
	files := testenv.ReadLayout(t, testenv.ExtractTar(t, filepath.Join(out, "img.tar")), "").RootFS(t)
	if got := string(files["uid"].Data); got != "0\n" {
		t.Errorf("RUN ran as uid %q, want 0", got)
	}
	u.write(t, "ctx2/Dockerfile", "FROM busybox\nRUN touch /f && chown 1001 /f\n")
	r = u.build(t, nil, filepath.Join(u.dir, "ctx2"))
	if r.code == 0 || !strings.Contains(r.stderr, "chown") {
		t.Errorf("chown to an unmapped id did not fail:\n%s", r)
	}
}

// Run as root of a user namespace the user made (`unshare -r`), builder
// detects it and picks the rootless level by itself.
func TestRootlessUnshareDetected(t *testing.T) {
	u := newRootlessUser(t, false)
	unshare := testenv.NeedTool(t, "unshare")
	u.write(t, "ctx/Dockerfile", "FROM busybox\nRUN echo in-userns > /f\n")
	out := u.mkdir(t, "out")
	r := u.run(t, nil, unshare, "-r", "--", u.bin, "build", "--progress", "plain", "--build-context", u.busybox,
		"-o", "type=oci,dest="+filepath.Join(out, "img.tar"), filepath.Join(u.dir, "ctx"))
	if r.code != 0 {
		t.Fatalf("build under unshare -r failed:\n%s", r)
	}
	if !strings.Contains(r.stderr, "isolation: rootless, snapshotter: overlay") {
		t.Errorf("unshare -r not detected as rootless:\n%s", r.stderr)
	}
	files := testenv.ReadLayout(t, testenv.ExtractTar(t, filepath.Join(out, "img.tar")), "").RootFS(t)
	if got := string(files["f"].Data); got != "in-userns\n" {
		t.Errorf("/f = %q", got)
	}
	// The user's store, not /var/lib/builder.
	if _, err := statOwner(filepath.Join(u.dir, "home", ".local", "share", "builder")); err != nil {
		t.Errorf("no store in the user's home: %v", err)
	}
}

// --memory and --cpus need a delegated cgroup v2 subtree; where there is
// none the build fails saying exactly that.
func TestRootlessLimits(t *testing.T) {
	u := newRootlessUser(t, true)
	u.write(t, "ctx/Dockerfile", "FROM busybox\nRUN cat /sys/fs/cgroup/memory.max > /max 2>/dev/null || echo none > /max\n")
	r := u.build(t, nil, "--memory", "64m", filepath.Join(u.dir, "ctx"))
	if r.code == 0 {
		return // a delegated subtree: the limit applied (checked at the namespace level)
	}
	if !strings.Contains(r.stderr, "--memory at the rootless level needs a cgroup v2 subtree delegated to uid") {
		t.Errorf("limit failure does not say what is missing:\n%s", r)
	}
	t.Logf("without a delegated cgroup v2 subtree:\n%s", lastLines(r.stderr, 2))
}
