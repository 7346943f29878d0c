package build_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/builderdev/builder/build"
	"github.com/builderdev/builder/exporter"
	"github.com/builderdev/builder/internal/testenv"
)

// A FROM scratch + COPY build runs in-process: the image has the config
// and history the Dockerfile says, its one layer holds exactly the copied
// files, it is tagged in the store and every exporter gets it.
func TestRunScratchCopy(t *testing.T) {
	ctxDir := writeContext(t, map[string]string{"hello.txt": "hi\n", "sub/a": "a", "unread": "u"})
	req := request(t, ctxDir, "FROM scratch\nCOPY hello.txt /hello.txt\nCOPY sub/ /opt/sub/\nENV A=1\nCMD [\"/hello\"]\n")
	st := openStore(t)
	ociTar := filepath.Join(t.TempDir(), "img.tar")
	local := filepath.Join(t.TempDir(), "rootfs")
	rep := &events{}
	var layersBefore []string
	res := run(t, req, st, build.WithReporter(rep), build.WithTags("app"),
		build.WithExporters(exporter.NewOCITar(exporter.File(ociTar), "app"), exporter.NewLocalDir(local)),
		build.WithBeforeSolve(func() { layersBefore = blobs(t, st) }))
	if len(layersBefore) != 0 {
		t.Errorf("before the solve of an empty store's first build: blobs %q", layersBefore)
	}

	cfg, err := res.Image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.Config.Cmd, " "); got != "/hello" {
		t.Errorf("Cmd %q", got)
	}
	if got := strings.Join(cfg.Config.Env, " "); !strings.Contains(got, "A=1") {
		t.Errorf("Env %q", got)
	}
	if cfg.Config.WorkingDir != "/" {
		t.Errorf("WorkingDir %q, want / (BuildKit's scratch)", cfg.Config.WorkingDir)
	}
	var created []string
	for _, h := range cfg.History {
		created = append(created, h.CreatedBy)
	}
	if len(cfg.History) != 4 || !strings.Contains(created[0], "COPY hello.txt /hello.txt") || !cfg.History[2].EmptyLayer {
		t.Errorf("history %q", created)
	}
	layers := layerHeaders(t, res.Image)
	if len(layers) != 2 {
		t.Fatalf("%d layers, want 2", len(layers))
	}
	if got := names(layers[0]); got != "hello.txt" {
		t.Errorf("layer 0 has %q, want only hello.txt", got)
	}
	if h := layers[0]["hello.txt"]; h.Size != 3 || h.Mode&0o777 != 0o644 || h.Uid != 0 {
		t.Errorf("hello.txt header %+v", h)
	}
	if got := names(layers[1]); got != "opt opt/sub opt/sub/a" {
		t.Errorf("layer 1 has %q", got)
	}

	// The result's digests are the image's; the tag points at it.
	d, _ := res.Image.Digest()
	id, _ := res.Image.ConfigName()
	if res.Digest != d || res.ConfigDigest != id || len(res.Pushed) != 0 {
		t.Errorf("result digest %s config %s pushed %v; image %s config %s", res.Digest, res.ConfigDigest, res.Pushed, d, id)
	}
	tagged, err := st.Image(testCtx(t), "app:latest")
	if err != nil {
		t.Fatal(err)
	}
	if td, _ := tagged.Digest(); td != d {
		t.Errorf("app:latest is %s, want %s", td, d)
	}
	if res.Steps != 2 || res.Cached != 0 {
		t.Errorf("%d run, %d cached; want 2 and 0", res.Steps, res.Cached)
	}

	// The exporters wrote the image.
	layout := testenv.ExtractTar(t, ociTar)
	if got := testenv.ReadLayout(t, layout, "latest").ManifestDigest; got != d.String() {
		t.Errorf("oci tar manifest %s, want %s", got, d)
	}
	if b, err := os.ReadFile(filepath.Join(local, "opt/sub/a")); err != nil || string(b) != "a" {
		t.Errorf("local output opt/sub/a: %q, %v", b, err)
	}

	// The same build again is all cache hits.
	again := run(t, request(t, ctxDir, "FROM scratch\nCOPY hello.txt /hello.txt\nCOPY sub/ /opt/sub/\nENV A=1\nCMD [\"/hello\"]\n"), st)
	if again.Steps != 0 || again.Cached != 2 || again.Digest != d {
		t.Errorf("rebuild: %d run, %d cached, digest %s; want 0, 2, %s", again.Steps, again.Cached, again.Digest, d)
	}
}

// A multi-stage build: only the last stage's layers are in the image, and
// COPY --from brings the file built by the first.
func TestRunMultiStage(t *testing.T) {
	ctxDir := writeContext(t, map[string]string{"src/main.c": "int main;", "README": "r"})
	req := request(t, ctxDir, `FROM scratch AS build
COPY src/ /src/
COPY README /README

FROM scratch AS unused
COPY README /never

FROM scratch
COPY --from=build /src/main.c /app/main.c
LABEL stage=final
`)
	rep := &events{}
	res := run(t, req, openStore(t), build.WithReporter(rep))
	layers := layerHeaders(t, res.Image)
	if len(layers) != 1 {
		t.Fatalf("%d layers, want 1 (the final stage's COPY)", len(layers))
	}
	if got := names(layers[0]); got != "app app/main.c" {
		t.Errorf("layer has %q", got)
	}
	if h := layers[0]["app/main.c"]; h.Size != int64(len("int main;")) {
		t.Errorf("app/main.c header %+v", h)
	}
	cfg, _ := res.Image.ConfigFile()
	if cfg.Config.Labels["stage"] != "final" {
		t.Errorf("labels %v", cfg.Config.Labels)
	}
	// The unused stage never ran.
	for _, ev := range rep.ev {
		if strings.Contains(ev.Name, "/never") {
			t.Errorf("the unused stage ran: %+v", ev)
		}
	}
	if res.Steps != 3 {
		t.Errorf("%d steps run, want 3 (two COPYs of build, one of the last stage)", res.Steps)
	}
}

// A RUN build on the test busybox image runs in-process with the
// isolation level picked here; the layer holds what the command wrote.
func TestRunBusyboxRun(t *testing.T) {
	testenv.LeakCheck(t)
	req := request(t, t.TempDir(), "FROM busybox\nRUN mkdir -p /out && echo built > /out/f && chown 1000:1000 /out/f\n")
	req.Contexts["busybox"] = "oci-layout://" + testenv.BusyboxLayout(t) + ":latest"
	rep := &events{}
	st := openStore(t)
	res := run(t, req, st, build.WithReporter(rep))
	if res.Isolation == "" || res.Snapshotter == "" {
		t.Fatalf("no runner: isolation %q snapshotter %q", res.Isolation, res.Snapshotter)
	}
	want := "isolation: " + string(res.Isolation) + ", snapshotter: " + res.Snapshotter
	if infos := rep.infos(); len(infos) == 0 || infos[0] != want {
		t.Errorf("info events %q, want first %q", infos, want)
	}
	layers := layerHeaders(t, res.Image)
	top := layers[len(layers)-1]
	if got := names(top); got != "out out/f" {
		t.Errorf("RUN layer has %q, want out out/f", got)
	}
	if h := top["out/f"]; h.Uid != 1000 || h.Gid != 1000 || h.Size != int64(len("built\n")) {
		t.Errorf("out/f header %+v", h)
	}
	// The snapshotter's work dir is gone after the build.
	ents, _ := os.ReadDir(st.TmpDir())
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "snapshots-") {
			t.Errorf("left %s in the store's tmp", e.Name())
		}
	}
}

// An isolation level that cannot be set up fails a build with RUN, but a
// build without RUN goes on without a runner.
func TestRunIsolationOnlyNeededForRun(t *testing.T) {
	ctxDir := writeContext(t, map[string]string{"f": "f"})
	st := openStore(t)
	if _, err := build.Run(testCtx(t), request(t, ctxDir, "FROM scratch\nRUN true\n"), build.WithStore(st), build.WithIsolation("nope")); err == nil {
		t.Fatal("RUN with isolation nope built")
	}
	res := run(t, request(t, ctxDir, "FROM scratch\nCOPY f /f\n"), st, build.WithIsolation("nope"))
	if res.Isolation != "" {
		t.Errorf("isolation %q, want none", res.Isolation)
	}
}

// Run needs a store; a failing exporter fails the build, and a solver
// error comes back as the solver gave it.
func TestRunErrors(t *testing.T) {
	ctxDir := writeContext(t, map[string]string{"f": "f"})
	if _, err := build.Run(testCtx(t), request(t, ctxDir, "FROM scratch\nCOPY f /f\n")); err == nil || !strings.Contains(err.Error(), "no store") {
		t.Errorf("no store: %v", err)
	}
	_, err := build.Run(testCtx(t), request(t, ctxDir, "FROM scratch\nCOPY f /f\n"), build.WithStore(openStore(t)),
		build.WithExporters(exporter.NewLocalDir("/proc/nope")))
	if err == nil || !strings.Contains(err.Error(), "write /proc/nope") {
		t.Errorf("failing exporter: %v", err)
	}
	_, err = build.Run(testCtx(t), request(t, ctxDir, "FROM scratch\nCOPY missing /\n"), build.WithStore(openStore(t)))
	if err == nil || !strings.HasPrefix(err.Error(), "Dockerfile:2: COPY failed") || !strings.Contains(err.Error(), "missing") {
		t.Errorf("COPY of a missing file: %v, want the Dockerfile line", err)
	}
}

// Pushes go through the exporters in order; the result's digest is the
// last push's (here a zstd conversion, not the stored image). A cache
// exported by one store makes the same build all hits in another, and a
// missing cache source only warns.
func TestRunPushAndCache(t *testing.T) {
	reg := testenv.StartRegistry(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("REGISTRY_AUTH_FILE", "")
	ctxDir := writeContext(t, map[string]string{"a": "a", "b": "b"})
	const df = "FROM scratch\nCOPY a /a\nCOPY b /b\n"
	cacheDir := filepath.Join(t.TempDir(), "cache")
	p := exporter.NewPusher()
	plain, zstd := reg.Ref("app:1"), reg.Ref("app:zstd")
	res := run(t, request(t, ctxDir, df), openStore(t),
		build.WithExporters(p.Exporter([]string{plain}), p.Exporter([]string{zstd}, exporter.WithCompression(exporter.Zstd, 0))),
		build.WithCacheTo(build.CacheSpec{Type: "local", Dir: cacheDir, Mode: "min"}))
	if len(res.Pushed) != 2 || res.Pushed[0].Ref != plain || res.Pushed[1].Ref != zstd {
		t.Fatalf("pushed %+v", res.Pushed)
	}
	d, _ := res.Image.Digest()
	if res.Pushed[0].Digest != d {
		t.Errorf("plain push %s, image %s", res.Pushed[0].Digest, d)
	}
	if res.Digest != res.Pushed[1].Digest || res.Digest == d {
		t.Errorf("result digest %s; zstd push %s, image %s", res.Digest, res.Pushed[1].Digest, d)
	}
	raw := testenv.SkopeoInspect(t, "docker://"+zstd, append(reg.SkopeoFlags(""), "--raw")...)
	if !strings.Contains(string(raw), "tar+zstd") {
		t.Errorf("zstd push has manifest %s", raw)
	}

	// WithBeforeSolve runs once, after the import: the store has the
	// imported layers then.
	m, _ := res.Image.Manifest()
	rep := &events{}
	st2 := openStore(t)
	calls, had := 0, 0
	before := func() {
		calls++
		for _, l := range m.Layers {
			if st2.HasBlob(testCtx(t), l.Digest) {
				had++
			}
		}
	}
	again := run(t, request(t, ctxDir, df), st2, build.WithReporter(rep), build.WithBeforeSolve(before),
		build.WithCacheFrom(build.CacheSpec{Type: "local", Dir: filepath.Join(cacheDir, "missing")}, build.CacheSpec{Type: "local", Dir: cacheDir}))
	if calls != 1 || had != len(m.Layers) {
		t.Errorf("before solve: %d calls, %d of %d layers in the store; want 1 call, all", calls, had, len(m.Layers))
	}
	if again.Steps != 0 || again.Cached != 2 || again.Digest != d {
		t.Errorf("build from the imported cache: %d run, %d cached, %s; want 0, 2, %s", again.Steps, again.Cached, again.Digest, d)
	}
	if infos := strings.Join(rep.infos(), "\n"); !strings.Contains(infos, "cache import from local "+filepath.Join(cacheDir, "missing")+": no cache there yet") {
		t.Errorf("no warning for the missing cache:\n%s", infos)
	}
}
