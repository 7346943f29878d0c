package e2e_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
)

// matrixDockerfile is the one Dockerfile the level matrix builds: a
// multi-stage build with COPY --from, a cache mount, tmpfs, secret, a bind
// from a stage, chown to several ids, edits of /etc/passwd and /etc/group,
// whiteouts of a base file and of a base directory, and hard links.
const matrixDockerfile = `FROM busybox AS src
RUN mkdir -p /data/sub && echo fromstage > /data/f && echo deep > /data/sub/g && mkdir /out && echo built > /out/app && chown 1001:1002 /out/app

FROM busybox
COPY --from=src /out/app /app/
RUN --mount=type=cache,id=matrix,target=/var/cache/m echo run >> /var/cache/m/log && cp /var/cache/m/log /cachelog
RUN --mount=type=tmpfs,target=/tmp echo x > /tmp/x && ls -a /tmp > /tmpls
RUN --mount=type=secret,id=tok,required=true sha256sum /run/secrets/tok | cut -c1-64 > /secret.sum
RUN --mount=type=bind,from=src,source=/data,target=/data cat /data/f /data/sub/g > /fromstage
RUN mkdir /ids && touch /ids/a /ids/b /ids/c && chown 1001:1002 /ids/a && chown 2000:3000 /ids/b && chown 65534:65534 /ids/c
RUN echo 'app:x:1001:1002:app:/app:/bin/sh' >> /etc/passwd && echo 'app:x:1002:' >> /etc/group && sed -i 's|/home/user|/srv/user|' /etc/passwd
RUN rm /bin/wget && rm -rf /home/user
RUN mkdir /h && echo h > /h/one && ln /h/one /h/two && ln /h/one /h3
`

// matrixSecond is the second build: the cache mount holds what the first
// build wrote.
const matrixSecond = matrixDockerfile + "RUN --mount=type=cache,id=matrix,target=/var/cache/m cp /var/cache/m/log /cachelog2\n"

const matrixEpoch = "SOURCE_DATE_EPOCH=1700000000"

// matrixBuild is one level's pair of builds.
type matrixBuild struct {
	level         string
	first, second *testenv.Image
}

// TestLevelMatrix builds matrixDockerfile twice (the second time with a
// step that reads the cache mount) at each isolation level: namespace on
// the host, rootless as a user of the host, chroot in a runc container set
// up like an unprivileged pod whose root is builder's own image, and
// rootless as uid 1000 in such a container where user namespaces are
// allowed. With SOURCE_DATE_EPOCH and rewrite-timestamp=true every level
// gives the same image digest.
func TestLevelMatrix(t *testing.T) {
	testenv.LeakCheck(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), matrixDockerfile)
	writeFile(t, filepath.Join(ctxDir, "Dockerfile.second"), matrixSecond)
	out := t.TempDir()
	var builds []matrixBuild

	// namespace: root on the host.
	ns := matrixBuild{level: "namespace"}
	root := newRoot(t)
	for i, df := range []string{"Dockerfile", "Dockerfile.second"} {
		tar := filepath.Join(out, "ns"+df+".tar")
		r := mustBuild(t, runOpts{env: []string{matrixEpoch, "TOK=s3cret"}}, "--root", root, "build", "--progress", "plain",
			"--isolation", "namespace", "--build-context", busyboxContext(t), "--secret", "id=tok,env=TOK",
			"-f", filepath.Join(ctxDir, df), "-o", "type=oci,dest="+tar+",rewrite-timestamp=true", ctxDir)
		checkLevel(t, "namespace", r.stderr)
		img := testenv.ReadLayout(t, testenv.ExtractTar(t, tar), "")
		if i == 0 {
			ns.first = img
		} else {
			ns.second = img
		}
	}
	builds = append(builds, ns)

	// rootless: a user with a subordinate range on the host.
	t.Run("rootless host", func(t *testing.T) {
		u := newRootlessUser(t, true)
		u.write(t, "ctx/Dockerfile", matrixDockerfile)
		u.write(t, "ctx/Dockerfile.second", matrixSecond)
		uOut := u.mkdir(t, "out")
		b := matrixBuild{level: "rootless (host user)"}
		for i, df := range []string{"Dockerfile", "Dockerfile.second"} {
			tar := filepath.Join(uOut, df+".tar")
			r := u.build(t, []string{matrixEpoch, "TOK=s3cret"}, "--secret", "id=tok,env=TOK",
				"-f", filepath.Join(u.dir, "ctx", df), "-o", "type=oci,dest="+tar+",rewrite-timestamp=true", filepath.Join(u.dir, "ctx"))
			if r.code != 0 {
				t.Fatalf("rootless build:\n%s", r)
			}
			checkLevel(t, "rootless", r.stderr)
			img := testenv.ReadLayout(t, testenv.ExtractTar(t, tar), "")
			if i == 0 {
				b.first = img
			} else {
				b.second = img
			}
		}
		builds = append(builds, b)
	})

	// chroot: root in an unprivileged pod; rootless: uid 1000 in a pod
	// without seccomp (user namespaces allowed), privilege escalation
	// allowed (the file capabilities of newuidmap/newgidmap) and an unmasked
	// /proc (a user namespace mounts a fresh /proc only where the pod's is
	// fully visible).
	pods := []struct {
		name, level, owner string
		pod                testenv.Pod
	}{
		{"chroot pod", "chroot", "0:0", testenv.Pod{}},
		{"rootless pod", "rootless", "1000:1000", testenv.Pod{UID: 1000, GID: 1000, Unconfined: true, AllowPrivilegeEscalation: true, UnmaskedProc: true}},
	}
	for _, pc := range pods {
		t.Run(pc.name, func(t *testing.T) {
			p := newImagePod(t)
			ctx := p.put(t, ctxDir, "ctx")
			owner := strings.Split(pc.owner, ":")
			p.chownWorkspace(t, owner[0], owner[1])
			b := matrixBuild{level: pc.level + " (pod)"}
			for i, df := range []string{"Dockerfile", "Dockerfile.second"} {
				dest := "/workspace/" + df + ".tar"
				pod := pc.pod
				pod.Env = []string{matrixEpoch, "TOK=s3cret"}
				pod.Args = []string{"/usr/local/bin/builder", "build", "--progress", "plain",
					"--build-context", "busybox=oci-layout:///workspace/busybox:latest", "--secret", "id=tok,env=TOK",
					"-f", ctx + "/" + df, "-o", "type=oci,dest=" + dest + ",rewrite-timestamp=true", ctx}
				log, code := p.run(t, pod)
				if code != 0 {
					t.Fatalf("builder in the %s: exit %d\n%s", pc.name, code, log)
				}
				checkLevel(t, pc.level, log)
				img := testenv.ReadLayout(t, testenv.ExtractTar(t, p.path(dest)), "")
				if i == 0 {
					b.first = img
				} else {
					b.second = img
				}
			}
			builds = append(builds, b)
		})
	}

	checkMatrixImage(t, ns.first, ns.second)
	for _, b := range builds[1:] {
		for _, pair := range []struct {
			name      string
			want, got *testenv.Image
		}{{"first", ns.first, b.first}, {"second", ns.second, b.second}} {
			if pair.got == nil {
				continue // that level failed above
			}
			if pair.got.ManifestDigest != pair.want.ManifestDigest {
				t.Errorf("%s build: %s gives %s, namespace %s", pair.name, b.level, pair.got.ManifestDigest, pair.want.ManifestDigest)
				diffLayers(t, pair.want, pair.got)
			}
		}
	}
	if len(builds) != 4 {
		t.Errorf("%d of 4 levels built", len(builds))
	}
}

// checkLevel fails unless the build's start line names level.
func checkLevel(t *testing.T, level, log string) {
	t.Helper()
	if !strings.Contains(log, "isolation: "+level+",") {
		t.Errorf("build not at the %s level:\n%s", level, log)
	}
}

// checkMatrixImage checks what the namespace level built: every feature
// of matrixDockerfile did what it should (the other levels are then
// checked by digest).
func checkMatrixImage(t *testing.T, first, second *testenv.Image) {
	t.Helper()
	files := first.RootFS(t)
	for name, want := range map[string]string{
		"app/app": "built\n", "cachelog": "run\n", "tmpls": ".\n..\nx\n", "fromstage": "fromstage\ndeep\n",
		"secret.sum": "1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0\n", // of "s3cret"
	} {
		f, ok := files[name]
		if !ok {
			t.Errorf("/%s is missing", name)
			continue
		}
		if string(f.Data) != want {
			t.Errorf("/%s = %q, want %q", name, f.Data, want)
		}
	}
	for name, ids := range map[string][2]int{"app/app": {1001, 1002}, "ids/a": {1001, 1002}, "ids/b": {2000, 3000}, "ids/c": {65534, 65534}} {
		if h := files[name].Header; h == nil || h.Uid != ids[0] || h.Gid != ids[1] {
			t.Errorf("/%s owner: %+v, want %d:%d", name, h, ids[0], ids[1])
		}
	}
	if p := string(files["etc/passwd"].Data); !strings.Contains(p, "app:x:1001:1002:") || !strings.Contains(p, "/srv/user") {
		t.Errorf("/etc/passwd edits missing: %q", p)
	}
	for _, gone := range []string{"bin/wget", "home/user", "tmp/x", "var/cache/m/log", "data", "run/secrets/tok"} {
		if _, ok := files[gone]; ok {
			t.Errorf("/%s is in the image", gone)
		}
	}
	// Whiteouts of a base file and a base directory, and hard links, in
	// the layers themselves.
	layers := first.Layers(t)
	wh := testenv.TarHeaders(t, layers[len(layers)-2])
	for _, w := range []string{"bin/.wh.wget", "home/.wh.user"} {
		if _, ok := wh[w]; !ok {
			t.Errorf("no whiteout %s in the layer: %v", w, keys(wh))
		}
	}
	hl := testenv.TarHeaders(t, layers[len(layers)-1])
	links := 0
	for _, h := range hl {
		if h.Typeflag == '1' {
			links++
		}
	}
	if links != 2 {
		t.Errorf("hard-link layer has %d links, want 2: %v", links, keys(hl))
	}
	if got := string(second.RootFS(t)["cachelog2"].Data); got != "run\n" {
		t.Errorf("the second build's cache mount holds %q, want the first build's %q", got, "run\n")
	}
}

// diffLayers reports which layers of got differ from want's.
func diffLayers(t *testing.T, want, got *testenv.Image) {
	t.Helper()
	if len(want.LayerFiles) != len(got.LayerFiles) {
		t.Errorf("  %d layers, want %d", len(got.LayerFiles), len(want.LayerFiles))
		return
	}
	wl, gl := want.Layers(t), got.Layers(t)
	for i := range want.LayerFiles {
		if want.Config.RootFS.DiffIDs[i] != got.Config.RootFS.DiffIDs[i] {
			t.Errorf("  layer %d differs:\n  want %s\n  got  %s", i,
				describeLayer(testenv.TarList(t, wl[i])), describeLayer(testenv.TarList(t, gl[i])))
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
