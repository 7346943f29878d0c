package bench

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/builderdev/builder/internal/testenv"
)

// defaultRuns is -benchtime when none is given: every series is the median
// of this many builds (b.Loop runs exactly this many iterations).
const defaultRuns = "5x"

func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.benchtime" })
	if !set {
		if err := flag.Set("test.benchtime", defaultRuns); err != nil {
			fmt.Fprintf(os.Stderr, "bench: set -test.benchtime: %v\n", err)
			os.Exit(2)
		}
	}
	os.Exit(m.Run())
}

// BenchmarkBuild runs every workload with builder and, when installed,
// buildah, one sub-benchmark per workload/phase/tool (one op = one build),
// then prints the comparison table and writes bench-out/results.md.
func BenchmarkBuild(b *testing.B) {
	testenv.LeakCheck(b)
	ctx := context.Background()
	work := b.TempDir()
	for _, d := range []string{"home", "tmp", "out"} {
		if err := os.MkdirAll(filepath.Join(work, d), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + filepath.Join(work, "home"),
		"DOCKER_CONFIG=" + filepath.Join(work, "home", ".docker"),
		"TMPDIR=" + filepath.Join(work, "tmp"),
	}
	// An empty credentials file: buildah insists that $DOCKER_CONFIG/config.json exists.
	if err := os.MkdirAll(filepath.Join(work, "home", ".docker"), 0o700); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "home", ".docker", "config.json"), []byte(`{"auths":{}}`), 0o600); err != nil {
		b.Fatal(err)
	}
	// Every tool pulls `FROM busybox` from this registry (plain HTTP on
	// 127.0.0.1); W5 pushes to it.
	reg := testenv.StartRegistry(b)
	baseRef := testenv.PushBusybox(b, reg)
	root := repoRoot(b)

	var tools []Tool
	builderErr := error(nil)
	bin := filepath.Join(work, "builder")
	if out, err := goBuild(ctx, root, bin); err != nil {
		builderErr = fmt.Errorf("go build ./cmd/builder: %w: %s", err, lastLines(string(out), 3))
	}
	tools = append(tools, &Builder{Bin: bin, Root: filepath.Join(work, "builder-root"), BaseRef: baseRef, Env: env,
		ProfileDir: os.Getenv("BENCH_PROFILE_DIR"), Trace: os.Getenv("BENCH_TRACE") != ""})
	notes := []string{"builder: " + toolVersion(ctx, bin, "version")}
	if builderErr != nil {
		notes[0] = "builder: " + builderErr.Error()
	}
	if bk, note, err := startBuildKit(ctx, work, root, baseRef, env); err != nil {
		notes = append(notes, "buildkit: not compared: "+oneLine(err.Error(), 300))
	} else {
		defer func() {
			if err := bk.Shutdown(); err != nil {
				b.Errorf("stop buildkitd: %v", err)
			}
		}()
		tools = append(tools, bk)
		notes = append(notes, note)
	}
	path, err := exec.LookPath("buildah")
	skopeo, serr := exec.LookPath("skopeo")
	switch {
	case err != nil:
		notes = append(notes, "buildah: not installed, not compared")
	case serr != nil:
		b.Errorf("buildah is installed but skopeo (needed to load its base image) is not: %v", serr)
	default:
		bh, err := newBuildah(ctx, path, skopeo, work, baseRef, env)
		if err != nil {
			b.Errorf("buildah is installed but unusable: %v", err)
		} else {
			tools = append(tools, bh)
			notes = append(notes, fmt.Sprintf("buildah: %s, storage driver %s, `bud --isolation chroot --layers --jobs %d --pull=never`",
				toolVersion(ctx, path, "--version"), bh.Driver, bh.Jobs))
		}
	}

	res := NewResults()
	for _, wl := range Workloads() {
		res.Title(wl.Name, wl.Title)
		dockerfile, contextDir, err := wl.Prepare(filepath.Join(work, wl.Name))
		if err != nil {
			b.Fatal(err)
		}
		// Phase by phase, each tool's series right after the other's: the
		// ratios compare series minutes apart at most, so a drift of the
		// machine (this disk's speed moves by 2x within an hour) falls on
		// both sides of a ratio rather than on one.
		for _, phase := range wl.Phases {
			for _, tool := range tools {
				k := Key{Workload: wl.Name, Phase: phase, Tool: tool.Name()}
				build := Build{Dockerfile: dockerfile, ContextDir: contextDir,
					Tag: strings.ToLower("bench-" + wl.Name)}
				if wl.OCIExport {
					build.OCITar = filepath.Join(work, "out", wl.Name+"-"+tool.Name()+".tar")
				}
				if wl.Push {
					build.Push = reg.Ref("bench/" + strings.ToLower(wl.Name) + "-" + tool.Name() + ":latest")
				}
				b.Run(wl.Name+"/"+string(phase)+"/"+tool.Name(), func(b *testing.B) {
					res.Reset(k)
					if tool.Name() == "builder" && builderErr != nil {
						res.Fail(k, builderErr)
						b.Error(builderErr)
						return
					}
					if err := measure(ctx, b, res, k, tool, build, wl, contextDir); err != nil {
						res.Fail(k, err)
						b.Errorf("%s %s %s: %v", k.Workload, k.Phase, k.Tool, err)
					}
					if st, ok := res.Stats(k); ok {
						b.ReportMetric(st.Wall.Seconds(), "s-median")
						b.ReportMetric(float64(st.MaxRSS)/(1<<20), "MB-peak-RSS")
					}
				})
			}
		}
	}

	header := fmt.Sprintf("# builder vs BuildKit and Buildah — %s, %s/%s, %d CPUs, median of -benchtime=%s per series\n\n%s",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(),
		flag.Lookup("test.benchtime").Value.String(), "- "+strings.Join(notes, "\n- "))
	var md bytes.Buffer
	if err := res.WriteMarkdown(&md, header); err != nil {
		b.Fatal(err)
	}
	fmt.Print("\n" + md.String())
	outDir := filepath.Join(root, "bench-out")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(outDir, "results.md"), md.Bytes(), 0o644); err != nil {
		b.Fatal(err)
	}
}

// measure runs one series: warm-up outside the timer for the phases that
// need a warm cache, then one build per b.Loop iteration.
func measure(ctx context.Context, b *testing.B, res *Results, k Key, tool Tool, build Build, wl Workload, contextDir string) (err error) {
	defer func() {
		if cerr := tool.Close(ctx); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if k.Phase != Cold {
		if err := tool.Reset(ctx); err != nil {
			return err
		}
		if _, err := tool.Build(ctx, build); err != nil {
			return fmt.Errorf("warm-up build: %w", err)
		}
	}
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		switch k.Phase {
		case Cold:
			if err := tool.Reset(ctx); err != nil {
				return err
			}
		case OneFile, AppChanged:
			if err := ChangeOneFile(contextDir, int(time.Now().UnixNano())); err != nil {
				return err
			}
		}
		if build.OCITar != "" {
			if err := os.Remove(build.OCITar); err != nil && !errors.Is(err, os.ErrNotExist) {
				return fmt.Errorf("remove old export: %w", err)
			}
		}
		b.StartTimer()
		s, err := tool.Build(ctx, build)
		if err != nil {
			return err
		}
		b.StopTimer()
		if err := checkExport(build.OCITar, wl.MinExport); err != nil {
			return err
		}
		b.StartTimer()
		res.Add(k, s)
	}
	return nil
}

// checkExport fails when an expected OCI archive is missing or smaller
// than min bytes.
func checkExport(file string, min int64) error {
	if file == "" {
		return nil
	}
	fi, err := os.Stat(file)
	if err != nil {
		return fmt.Errorf("check export: %w", err)
	}
	if fi.Size() < min {
		return fmt.Errorf("check export: %s is %d bytes, want at least %d", file, fi.Size(), min)
	}
	return nil
}

// newBuildah returns buildah with storage under work, overlay if it works
// here, else vfs.
func newBuildah(ctx context.Context, path, skopeo, work, baseRef string, env []string) (*Buildah, error) {
	var errs []error
	for _, driver := range []string{"overlay", "vfs"} {
		bh := &Buildah{Bin: path, Skopeo: skopeo, Driver: driver, BaseRef: baseRef, Jobs: runtime.NumCPU(), Env: env,
			Root: filepath.Join(work, "buildah-"+driver), RunRoot: filepath.Join(work, "buildah-run-"+driver)}
		err := bh.Reset(ctx)
		if cerr := bh.Close(ctx); err == nil {
			err = cerr
		}
		if err == nil {
			return bh, nil
		}
		errs = append(errs, fmt.Errorf("driver %s: %w", driver, err))
	}
	return nil, errors.Join(errs...)
}

// buildKitVersion is the buildkit module go.mod already requires (for the
// Dockerfile parser); `make bench` builds its daemon and client from it.
const buildKitVersion = "v0.34.2"

// startBuildKit finds or builds buildkitd and buildctl ($BUILDKIT_BIN, PATH,
// or the module built into .cache/), starts the daemon under work and warms
// it with one build.
func startBuildKit(ctx context.Context, work, root, baseRef string, env []string) (*BuildKit, string, error) {
	cache := filepath.Join(root, ".cache", "bench")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, "", fmt.Errorf("create cache dir: %w", err)
	}
	kitd, ctl, err := FindBuildKit(ctx, os.Getenv("BUILDKIT_BIN"), cache, buildKitVersion)
	if err != nil {
		return nil, "", err
	}
	bk := &BuildKit{Buildkitd: kitd, Buildctl: ctl, Dir: filepath.Join(work, "buildkit"), BaseRef: baseRef, Env: env}
	if err := bk.Start(ctx); err != nil {
		return nil, "", errors.Join(err, bk.Shutdown())
	}
	warm := filepath.Join(work, "buildkit-warm")
	if err := os.MkdirAll(warm, 0o755); err != nil {
		return nil, "", errors.Join(err, bk.Shutdown())
	}
	df := filepath.Join(warm, "Dockerfile")
	if err := os.WriteFile(df, []byte("FROM busybox\nRUN echo warm > /warm\n"), 0o644); err != nil {
		return nil, "", errors.Join(err, bk.Shutdown())
	}
	if _, err := bk.Build(ctx, Build{Dockerfile: df, ContextDir: warm, Tag: "bench-warm"}); err != nil {
		return nil, "", errors.Join(fmt.Errorf("warm-up build: %w", err), bk.Shutdown())
	}
	version := toolVersion(ctx, kitd, "--version")
	if strings.Contains(version, "v0.0.0+unknown") { // built from the module: no version stamped in
		version = "buildkitd " + buildKitVersion + " (built from the Go module)"
	}
	note := fmt.Sprintf("buildkit: %s, OCI worker, overlayfs snapshotter, runc; warm daemon; `buildctl build --frontend dockerfile.v0`", version)
	return bk, note, nil
}

func goBuild(ctx context.Context, dir, bin string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/builder")
	cmd.Dir = dir
	return cmd.CombinedOutput()
}

func toolVersion(ctx context.Context, bin string, args ...string) string {
	out, err := exec.CommandContext(ctx, bin, args...).Output()
	if err != nil {
		return "version unknown"
	}
	return oneLine(string(out), 100)
}

// repoRoot is the module root (this package's parent directory).
func repoRoot(t testing.TB) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(wd)
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("find go.mod above %s: %v", wd, err)
	}
	return root
}
