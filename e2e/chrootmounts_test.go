package e2e_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
)

// chrootMountsDockerfile uses every RUN --mount type, with targets that
// exist in the image (/root, /tmp) and targets that do not.
const chrootMountsDockerfile = `FROM busybox AS src
RUN mkdir -p /data/sub && echo fromstage > /data/f && echo deep > /data/sub/g

FROM busybox
RUN --mount=type=cache,id=app,target=/var/cache/app echo run >> /var/cache/app/log && cp /var/cache/app/log /log
RUN --mount=type=tmpfs,target=/tmp echo x > /tmp/x && ls -a /tmp > /tmpls
RUN --mount=type=bind,from=src,source=/data,target=/data,rw cat /data/f /data/sub/g > /fromstage && echo junk > /data/junk && rm /data/f
RUN --mount=type=bind,source=dir,target=/root cat /root/a > /ctxa && ls -a /root > /rootls
RUN --mount=type=bind,source=dir,target=/etc/ctx/deep cat /etc/ctx/deep/a > /ctxdeep
RUN --mount=type=secret,id=tok,required=true test "$(cat /run/secrets/tok)" = s3cret && echo ok > /secretok
RUN --mount=type=bind,source=dir/a,target=/etc/passwd grep -q ctx-file /etc/passwd && echo ok > /fileok
RUN --mount=type=ssh,required=true test -S "$SSH_AUTH_SOCK" && echo "$SSH_AUTH_SOCK" > /sshsock && stat -c %a "$SSH_AUTH_SOCK" >> /sshsock
`

// chrootMountsBuild builds chrootMountsDockerfile at level on root and
// returns the image read back from an OCI tar.
func chrootMountsBuild(t *testing.T, root, level, ctxDir string, extra ...string) (*testenv.Image, result) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "img.tar")
	agent := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", agent)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	args := append([]string{"--root", root, "build", "--progress", "plain", "--isolation", level,
		"--build-context", busyboxContext(t), "--secret", "id=tok,env=TOK", "--ssh", "default",
		"-o", "type=oci,dest=" + out + ",rewrite-timestamp=true"}, extra...)
	r := mustBuild(t, runOpts{env: []string{"SOURCE_DATE_EPOCH=1700000000", "TOK=s3cret", "SSH_AUTH_SOCK=" + agent}}, append(args, ctxDir)...)
	return testenv.ReadLayout(t, testenv.ExtractTar(t, out), ""), r
}

func chrootMountsContext(t *testing.T) string {
	t.Helper()
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), chrootMountsDockerfile)
	writeFile(t, filepath.Join(ctxDir, "dir/a"), "ctx-file\n")
	return ctxDir
}

// TestChrootMountsMatchNamespace builds one Dockerfile with cache, tmpfs,
// bind (stage, context dir, context file) and secret mounts at the
// namespace and the chroot level: with SOURCE_DATE_EPOCH and
// rewrite-timestamp every layer is the same, byte for byte, and nothing of
// a mount's content reaches a layer. The chroot build's start says what
// the level lacks.
func TestChrootMountsMatchNamespace(t *testing.T) {
	testenv.LeakCheck(t)
	ctxDir := chrootMountsContext(t)
	ctxBefore := dirListing(t, ctxDir)
	imgs := map[string]*testenv.Image{}
	for _, level := range isolationLevels {
		img, r := chrootMountsBuild(t, newRoot(t), level, ctxDir)
		imgs[level] = img
		if level == "chroot" && !strings.Contains(r.stderr, "isolation: chroot, snapshotter: copy; lacks: RUN --network=none") {
			t.Errorf("the chroot build does not say what it lacks:\n%s", r.stderr)
		}
	}
	if got := dirListing(t, ctxDir); got != ctxBefore {
		t.Errorf("the build context changed:\nbefore %s\nafter  %s", ctxBefore, got)
	}
	ns, ch := imgs["namespace"], imgs["chroot"]
	if len(ns.LayerFiles) != len(ch.LayerFiles) {
		t.Fatalf("namespace image has %d layers, chroot %d", len(ns.LayerFiles), len(ch.LayerFiles))
	}
	nsLayers, chLayers := ns.Layers(t), ch.Layers(t)
	for i := range ns.LayerFiles {
		if ns.Config.RootFS.DiffIDs[i] == ch.Config.RootFS.DiffIDs[i] {
			continue
		}
		t.Errorf("layer %d differs:\nnamespace %s\nchroot    %s", i,
			describeLayer(testenv.TarList(t, nsLayers[i])), describeLayer(testenv.TarList(t, chLayers[i])))
	}
	if ns.ManifestDigest != ch.ManifestDigest {
		t.Errorf("image digests differ: namespace %s, chroot %s", ns.ManifestDigest, ch.ManifestDigest)
	}

	files := ch.RootFS(t)
	for name, want := range map[string]string{
		"log": "run\n", "tmpls": ".\n..\nx\n", "fromstage": "fromstage\ndeep\n", "ctxa": "ctx-file\n",
		"ctxdeep": "ctx-file\n", "secretok": "ok\n", "fileok": "ok\n", "rootls": ".\n..\na\n",
		"sshsock": "/run/buildkit/ssh_agent.0\n600\n",
	} {
		f, ok := files[name]
		if !ok {
			t.Errorf("/%s is missing from the image", name)
			continue
		}
		if string(f.Data) != want {
			t.Errorf("/%s = %q, want %q", name, f.Data, want)
		}
	}
	for _, name := range []string{"var/cache/app/log", "tmp/x", "data", "root/a", "etc/ctx", "run/secrets/tok", "run/secrets", "run/buildkit"} {
		if _, ok := files[name]; ok {
			t.Errorf("/%s (a mount's content or mount point) is in the image", name)
		}
	}
	if f := files["etc/passwd"]; strings.Contains(string(f.Data), "ctx-file") {
		t.Errorf("/etc/passwd has the bound file's content: %q", f.Data)
	}
	if f, ok := files["tmp"]; !ok || f.Header.Mode&0o1777 != 0o1777 {
		t.Errorf("/tmp is not the image's own 1777 directory: %+v", f.Header)
	}
}

// TestChrootCacheMountAcrossBuilds checks that a cache written at the
// chroot level is in the store afterwards (moved back, not copied) and is
// the cache the next build, at either level, gets.
func TestChrootCacheMountAcrossBuilds(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	ctxDir := chrootMountsContext(t)
	for i, level := range []string{"chroot", "chroot", "namespace"} {
		img, _ := chrootMountsBuild(t, root, level, ctxDir, "--no-cache")
		want := strings.Repeat("run\n", i+1)
		if got := string(img.RootFS(t)["log"].Data); got != want {
			t.Errorf("build %d (%s): /log = %q, want %q", i+1, level, got, want)
		}
		logs, _ := filepath.Glob(filepath.Join(root, "cache-mounts", "*", "log"))
		if len(logs) != 1 {
			t.Fatalf("build %d: cache mount logs in the store: %v, want one", i+1, logs)
		}
		if b, _ := os.ReadFile(logs[0]); string(b) != want {
			t.Errorf("build %d: the store's cache has %q, want %q", i+1, b, want)
		}
	}
}

// TestSSHMountRequired checks that a required ssh mount without --ssh
// fails, naming the flag, at both levels.
func TestSSHMountRequired(t *testing.T) {
	testenv.LeakCheck(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM busybox\nRUN --mount=type=ssh,required=true true\n")
	for _, level := range isolationLevels {
		r := runBuilder(t, runOpts{}, "--root", newRoot(t), "build", "--progress", "plain", "--isolation", level,
			"--build-context", busyboxContext(t), ctxDir)
		if r.code == 0 || !strings.Contains(r.stderr, "ssh default: required but not provided (use --ssh default=SOCKET") {
			t.Errorf("%s: want a missing-ssh error:\n%s", level, r)
		}
	}
}

// TestChrootNetworkNoneRefused checks that RUN --network=none at the chroot
// level fails and says which levels can do it.
func TestChrootNetworkNoneRefused(t *testing.T) {
	testenv.LeakCheck(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM busybox\nRUN --network=none true\n")
	r := runBuilder(t, runOpts{}, "--root", newRoot(t), "build", "--progress", "plain", "--isolation", "chroot",
		"--build-context", busyboxContext(t), ctxDir)
	if r.code == 0 {
		t.Fatalf("the build succeeded:\n%s", r)
	}
	for _, want := range []string{"Dockerfile:2", "--network=none is not available at the chroot isolation level", "namespace and rootless levels"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stderr)
		}
	}
}

// TestChrootDaemonDoesNotSurvive runs steps that daemonize at the chroot
// level (setsid, a double fork): nothing they started is alive after the
// build.
func TestChrootDaemonDoesNotSurvive(t *testing.T) {
	testenv.LeakCheck(t)
	mark := fmt.Sprintf("daemon-%d", os.Getpid())
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM busybox\nARG MARK\n"+
		"RUN setsid sleep 1000 & sleep 0.2; echo started\n"+
		"RUN (setsid sh -c 'sleep 1000 & sleep 1000' &) ; sleep 0.2; echo started\n")
	mustBuild(t, runOpts{}, "--root", newRoot(t), "build", "--progress", "plain", "--isolation", "chroot",
		"--build-context", busyboxContext(t), "--build-arg", "MARK="+mark, ctxDir)
	if left := processesWithEnv("MARK=" + mark); len(left) > 0 {
		t.Errorf("processes of the steps survived the build: %v", left)
	}
}

// describeLayer lists a layer's entries with the header fields a layer
// digest depends on.
func describeLayer(files []testenv.TarFile) string {
	var lines []string
	for _, f := range files {
		h := f.Header
		lines = append(lines, fmt.Sprintf("%s %o %d:%d %d %s %v", h.Name, h.Mode, h.Uid, h.Gid, len(f.Data), h.ModTime.UTC().Format("2006-01-02T15:04:05"), h.PAXRecords))
	}
	return "\n  " + strings.Join(lines, "\n  ")
}

// dirListing is a one-line summary of every entry under dir (name, mode,
// size, mtime) to tell whether anything in it changed.
func dirListing(t *testing.T, dir string) string {
	t.Helper()
	var out []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s:%v:%d:%d", p, fi.Mode(), fi.Size(), fi.ModTime().UnixNano()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

// TestChrootCacheBackAfterFailureAndCancel checks that a cache mount's
// directory goes back to the store when its step fails and when the build
// is interrupted during the step, with what the step wrote.
func TestChrootCacheBackAfterFailureAndCancel(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	bb := busyboxContext(t)
	cacheLog := func() string {
		t.Helper()
		logs, _ := filepath.Glob(filepath.Join(root, "cache-mounts", "*", "log"))
		if len(logs) != 1 {
			t.Fatalf("cache mount logs in the store: %v, want one", logs)
		}
		b, err := os.ReadFile(logs[0])
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	writeFile(t, filepath.Join(ctxDir, "Dockerfile"),
		"FROM busybox\nRUN --mount=type=cache,id=app,target=/c echo failed >> /c/log && exit 3\n")
	r := runBuilder(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--isolation", "chroot", "--build-context", bb, ctxDir)
	if r.code == 0 || !strings.Contains(r.stderr, "exit code: 3") {
		t.Fatalf("the failing step did not fail with exit code 3:\n%s", r)
	}
	if got := cacheLog(); got != "failed\n" {
		t.Errorf("after a failed step the cache has %q, want %q", got, "failed\n")
	}

	writeFile(t, filepath.Join(ctxDir, "Dockerfile"),
		"FROM busybox\nRUN --mount=type=cache,id=app,target=/c echo cancelled >> /c/log && echo ST$((1+1)) && sleep 100\n")
	cmd := exec.Command(builderBin, "--root", root, "build", "--progress", "plain", "--isolation", "chroot", "--build-context", bb, ctxDir)
	cmd.Env = builderEnv(t, nil)
	stderr := startUntil(t, cmd, "ST2")
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatalf("interrupted build exited 0:\n%s", stderr.String())
	}
	if got := cacheLog(); got != "failed\ncancelled\n" {
		t.Errorf("after an interrupted step the cache has %q, want %q", got, "failed\ncancelled\n")
	}
	if p := testenv.ProcessesUnder(root); len(p) > 0 {
		t.Errorf("processes left under the store: %v", p)
	}
}

// TestUnprivilegedPodMounts builds, inside the simulated pod (no mount, no
// namespaces), a Dockerfile with cache, tmpfs, bind (stage and context),
// secret and ssh mounts, twice on one store: every mount works, nothing of
// them is in the image, and the second build finds what the first wrote
// in the cache. A daemonized process of a step does not outlive the build.
func TestUnprivilegedPodMounts(t *testing.T) {
	testenv.LeakCheck(t)
	testenv.NeedTool(t, "runc")
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("busybox-static is not installed")
	}
	bundle := t.TempDir()
	rootfs := filepath.Join(bundle, "rootfs")
	for _, d := range []string{"ctx/dir", "out", "tmp", "proc", "dev", "sys"} {
		mkdir(t, filepath.Join(rootfs, d), 0o755)
	}
	copyInto(t, builderBin, filepath.Join(rootfs, "builder"), 0o755)
	copyLibs(t, builderBin, rootfs)
	copyInto(t, bb, filepath.Join(rootfs, "ctx/busybox"), 0o755)
	writeFile(t, filepath.Join(rootfs, "ctx/dir/a"), "ctx-file\n")
	writeFile(t, filepath.Join(rootfs, "ctx/tok"), "s3cret")
	writeFile(t, filepath.Join(rootfs, "ctx/Dockerfile"), `FROM scratch AS base
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
FROM base AS src
RUN mkdir /data && echo fromstage > /data/f
FROM base
RUN --mount=type=cache,id=app,target=/var/cache/app echo run >> /var/cache/app/log && cp /var/cache/app/log /log
RUN --mount=type=tmpfs,target=/scratch echo x > /scratch/x && ls /scratch > /tmpls
RUN --mount=type=bind,from=src,source=/data,target=/data cat /data/f > /fromstage
RUN --mount=type=bind,source=dir,target=/mnt/ctx cat /mnt/ctx/a > /ctxa
RUN --mount=type=secret,id=tok test "$(cat /run/secrets/tok)" = s3cret && echo ok > /secretok
RUN --mount=type=ssh,required=true test -S "$SSH_AUTH_SOCK" && echo ok > /sshok
RUN setsid sleep 1000 & echo daemon
`)
	agent, err := net.Listen("unix", filepath.Join(rootfs, "ctx/agent.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	for i, want := range []string{"run\n", "run\nrun\n"} {
		out := fmt.Sprintf("/out/img%d.tar", i)
		writePodConfig(t, bundle, []string{"/ctx/busybox", "sh", "-c",
			"/builder --root /tmp/root build --progress plain --isolation chroot --no-cache --secret id=tok,src=/ctx/tok --ssh default=/ctx/agent.sock " +
				"-o type=oci,dest=" + out + " /ctx && echo BUILT && /ctx/busybox ps -o pid,args | /ctx/busybox grep 'sleep 1000' | /ctx/busybox grep -v grep; echo PS-DONE"})
		log, code := testenv.RunRunc(t, bundle)
		if code != 0 || !strings.Contains(log, "BUILT") {
			t.Fatalf("build %d in the pod: exit %d\n%s", i+1, code, log)
		}
		// ps after the build, in the pod: no "sleep 1000" left.
		if _, after, _ := strings.Cut(log, "BUILT"); strings.Contains(after, "sleep") {
			t.Errorf("build %d: a step's daemon outlived the build:\n%s", i+1, after)
		}
		img := testenv.ReadLayout(t, testenv.ExtractTar(t, filepath.Join(rootfs, out)), "")
		files := img.RootFS(t)
		for name, w := range map[string]string{"log": want, "tmpls": "x\n", "fromstage": "fromstage\n",
			"ctxa": "ctx-file\n", "secretok": "ok\n", "sshok": "ok\n"} {
			if got := string(files[name].Data); got != w {
				t.Errorf("build %d: /%s = %q, want %q", i+1, name, got, w)
			}
		}
		for _, name := range []string{"var/cache/app/log", "scratch", "data", "mnt", "run/secrets", "run/buildkit"} {
			if _, ok := files[name]; ok {
				t.Errorf("build %d: /%s is in the image", i+1, name)
			}
		}
	}
}

// TestChrootSharedCacheParallelSteps runs two independent stages that use
// one shared cache at the chroot level, where it is moved into one root at
// a time: both steps see one cache, and it holds what both wrote.
func TestChrootSharedCacheParallelSteps(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), `FROM busybox AS a
RUN --mount=type=cache,id=shared,target=/c echo a >> /c/log && sleep 1
FROM busybox AS b
RUN --mount=type=cache,id=shared,target=/c echo b >> /c/log && sleep 1
FROM busybox
COPY --from=a /etc/passwd /a
COPY --from=b /etc/passwd /b
`)
	mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--isolation", "chroot",
		"--build-context", busyboxContext(t), ctxDir)
	logs, _ := filepath.Glob(filepath.Join(root, "cache-mounts", "*", "log"))
	if len(logs) != 1 {
		t.Fatalf("cache mount logs in the store: %v, want one", logs)
	}
	b, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	if got := string(b); got != "a\nb\n" && got != "b\na\n" {
		t.Errorf("the shared cache has %q, want both steps' lines", got)
	}
}
