package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// BuildKit runs a buildkitd daemon (OCI worker, overlayfs snapshotter,
// runc) on a private root and socket, and times `buildctl build` against
// it. The daemon is warm: Start runs one build before anything is measured.
// Base images come from a registry (BaseRef, plain HTTP on 127.0.0.1),
// given to the Dockerfile frontend as the named context "busybox".
type BuildKit struct {
	Buildkitd, Buildctl string
	// Dir holds the daemon's root, socket, config and log.
	Dir string
	// BaseRef is "127.0.0.1:PORT/busybox:latest".
	BaseRef string
	Env     []string

	cmd  *exec.Cmd
	done chan error
}

var _ Tool = (*BuildKit)(nil)

// Name returns "buildkit".
func (t *BuildKit) Name() string { return "buildkit" }

func (t *BuildKit) addr() string { return "unix://" + filepath.Join(t.Dir, "buildkitd.sock") }

// Start starts the daemon and waits until it answers.
func (t *BuildKit) Start(ctx context.Context) error {
	if err := os.MkdirAll(t.Dir, 0o700); err != nil {
		return fmt.Errorf("create buildkit dir: %w", err)
	}
	host, _, _ := strings.Cut(t.BaseRef, "/")
	cfg := filepath.Join(t.Dir, "buildkitd.toml")
	conf := fmt.Sprintf("[registry.%q]\n  http = true\n  insecure = true\n", host)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		return fmt.Errorf("write buildkitd config: %w", err)
	}
	logf, err := os.Create(filepath.Join(t.Dir, "buildkitd.log"))
	if err != nil {
		return fmt.Errorf("create buildkitd log: %w", err)
	}
	defer logf.Close()
	t.cmd = exec.Command(t.Buildkitd, "--config", cfg, "--root", filepath.Join(t.Dir, "root"), "--addr", t.addr(),
		"--oci-worker=true", "--containerd-worker=false", "--oci-worker-snapshotter=overlayfs",
		"--oci-worker-binary=runc", "--oci-worker-gc=false")
	t.cmd.Env = t.Env
	t.cmd.Stdout, t.cmd.Stderr = logf, logf
	t.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := t.cmd.Start(); err != nil {
		return fmt.Errorf("start buildkitd: %w", err)
	}
	t.done = make(chan error, 1)
	go func() { t.done <- t.cmd.Wait() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, _, _, err := Exec(ctx, Command{Path: t.Buildctl, Args: []string{"--addr", t.addr(), "debug", "workers"}, Env: t.Env})
		if err == nil {
			return nil
		}
		select {
		case werr := <-t.done:
			t.cmd = nil
			log, _ := os.ReadFile(filepath.Join(t.Dir, "buildkitd.log"))
			return fmt.Errorf("buildkitd exited (%v): %s", werr, lastLines(string(log), 3))
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = t.stop()
			return fmt.Errorf("buildkitd not ready after 60s: %w", err)
		}
	}
}

// stop ends the daemon (SIGTERM, then SIGKILL after 20 s) and waits for it.
func (t *BuildKit) stop() error {
	if t.cmd == nil {
		return nil
	}
	pid := t.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-t.done:
	case <-time.After(20 * time.Second):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-t.done
	}
	t.cmd = nil
	return nil
}

// Reset drops every cache record and snapshot (`buildctl prune --all`), so
// that the next build pulls the base image again and runs every step.
func (t *BuildKit) Reset(ctx context.Context) error {
	_, _, _, err := Exec(ctx, Command{Path: t.Buildctl, Env: t.Env, Args: []string{"--addr", t.addr(), "prune", "--all"}})
	if err != nil {
		return fmt.Errorf("buildctl prune: %w", err)
	}
	return nil
}

// Close is a no-op between series: the daemon stays warm. Shutdown stops it.
func (t *BuildKit) Close(ctx context.Context) error { return nil }

// Shutdown stops the daemon and removes its root (unmounting what it left).
func (t *BuildKit) Shutdown() error {
	err := t.stop()
	return errors.Join(err, removeTree(t.Dir))
}

// Build runs `buildctl build` with the Dockerfile frontend. Peak RSS is the
// daemon's (VmHWM, reset before the build through clear_refs) or buildctl's,
// whichever is larger.
func (t *BuildKit) Build(ctx context.Context, b Build) (Sample, error) {
	args := []string{"--addr", t.addr(), "build", "--progress", "plain", "--frontend", "dockerfile.v0",
		"--local", "context=" + b.ContextDir, "--local", "dockerfile=" + filepath.Dir(b.Dockerfile),
		"--opt", "filename=" + filepath.Base(b.Dockerfile),
		"--opt", "context:busybox=docker-image://" + t.BaseRef}
	switch {
	case b.OCITar != "":
		args = append(args, "--output", "type=oci,dest="+b.OCITar)
	case b.Push != "":
		args = append(args, "--output", "type=image,name="+b.Push+",push=true,registry.insecure=true")
	default:
		args = append(args, "--output", "type=image,name=localhost/"+b.Tag)
	}
	if t.cmd != nil {
		// "5" resets the peak RSS the kernel reports as VmHWM.
		_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", t.cmd.Process.Pid), []byte("5"), 0)
	}
	s, _, _, err := Exec(ctx, Command{Path: t.Buildctl, Args: args, Env: t.Env})
	if t.cmd != nil {
		if hwm := vmHWM(t.cmd.Process.Pid); hwm > s.MaxRSS {
			s.MaxRSS = hwm
		}
	}
	return s, err
}

// vmHWM is the peak RSS of pid in bytes (0 when unknown).
func vmHWM(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				return kb * 1024
			}
		}
	}
	return 0
}

// FindBuildKit returns the buildkitd and buildctl binaries: in dir (when
// set, e.g. $BUILDKIT_BIN), else on PATH, else built into cacheDir from the
// Go module github.com/moby/buildkit@version through the module proxy.
// `go install pkg@version` refuses buildkit (its go.mod has exclude
// directives), so the module is downloaded and built in place.
func FindBuildKit(ctx context.Context, dir, cacheDir, version string) (buildkitd, buildctl string, err error) {
	if dir != "" {
		d, c := filepath.Join(dir, "buildkitd"), filepath.Join(dir, "buildctl")
		if isExec(d) && isExec(c) {
			return d, c, nil
		}
		return "", "", fmt.Errorf("find buildkit: no buildkitd and buildctl in %s", dir)
	}
	if d, err := exec.LookPath("buildkitd"); err == nil {
		if c, err := exec.LookPath("buildctl"); err == nil {
			return d, c, nil
		}
	}
	out := filepath.Join(cacheDir, "buildkit-"+version)
	d, c := filepath.Join(out, "buildkitd"), filepath.Join(out, "buildctl")
	if isExec(d) && isExec(c) {
		return d, c, nil
	}
	dl := exec.CommandContext(ctx, "go", "mod", "download", "-json", "github.com/moby/buildkit@"+version)
	dl.Dir = cacheDir
	js, err := dl.Output()
	if err != nil {
		return "", "", fmt.Errorf("download buildkit %s: %w", version, err)
	}
	modDir := jsonField(string(js), "Dir")
	if modDir == "" {
		return "", "", fmt.Errorf("download buildkit %s: no Dir in go mod download output", version)
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", "", fmt.Errorf("create buildkit cache dir: %w", err)
	}
	build := exec.CommandContext(ctx, "go", "build", "-o", out+"/", "./cmd/buildkitd", "./cmd/buildctl")
	build.Dir = modDir
	build.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if b, err := build.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("build buildkit %s: %w: %s", version, err, lastLines(string(b), 3))
	}
	return d, c, nil
}

// jsonField pulls the string value of "key" out of go's indented JSON.
func jsonField(js, key string) string {
	for _, line := range strings.Split(js, "\n") {
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, `"`+key+`": "`); ok {
			return strings.TrimSuffix(strings.TrimSuffix(rest, ","), `"`)
		}
	}
	return ""
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
