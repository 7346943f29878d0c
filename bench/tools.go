package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Build is one build request, the same for every tool.
type Build struct {
	Dockerfile, ContextDir string
	// Tag names the result in the tool's own store.
	Tag string
	// OCITar, when set, is where the image is exported as an OCI archive.
	OCITar string
	// Push, when set, is the registry reference the image is pushed to
	// (plain HTTP on 127.0.0.1).
	Push string
}

// Tool is an image builder under test. Each tool keeps its store in its own
// directories.
type Tool interface {
	Name() string
	// Reset empties the tool's store and cache and makes the busybox base
	// image available locally, so that the next build is cold.
	Reset(ctx context.Context) error
	// Build runs one build and measures it.
	Build(ctx context.Context, b Build) (Sample, error)
	// Close removes the tool's store.
	Close(ctx context.Context) error
}

var (
	_ Tool = (*Builder)(nil)
	_ Tool = (*Buildah)(nil)
)

// Builder runs the builder binary with its store in Root and `FROM busybox`
// pulled from the registry (BaseRef) with --build-context.
type Builder struct {
	Bin, Root string
	// BaseRef is "127.0.0.1:PORT/busybox:latest".
	BaseRef string
	// Env is the child's environment (nil: the parent's).
	Env []string
	// ProfileDir, when set, gets a CPU profile of every build
	// (--debug-profile DIR/TAG-N.prof, N counting builds from 1), or with
	// Trace an execution trace (DIR/TAG-N.trace).
	ProfileDir string
	Trace      bool
	builds     int
}

// Name returns "builder".
func (t *Builder) Name() string { return "builder" }

// Reset removes the store; the next build pulls the base image again.
func (t *Builder) Reset(ctx context.Context) error { return removeTree(t.Root) }

// Close removes the store.
func (t *Builder) Close(ctx context.Context) error { return removeTree(t.Root) }

// Build runs `builder build --progress json`; Sample.Work is the time spent
// in RUN/COPY/ADD steps that were not cached, from the progress events.
func (t *Builder) Build(ctx context.Context, b Build) (Sample, error) {
	args := []string{"--root", t.Root}
	if t.ProfileDir != "" {
		t.builds++
		ext := "prof"
		if t.Trace {
			ext = "trace"
		}
		args = append(args, "--debug-profile", filepath.Join(t.ProfileDir, fmt.Sprintf("%s-%d.%s", b.Tag, t.builds, ext)))
	}
	args = append(args, "build", "--progress", "json", "-f", b.Dockerfile,
		"--build-context", "busybox=docker-image://"+t.BaseRef)
	switch {
	case b.OCITar != "":
		args = append(args, "-o", "type=oci,dest="+b.OCITar)
	case b.Push != "":
		args = append(args, "--push", "-t", b.Push)
	default:
		args = append(args, "-t", b.Tag)
	}
	args = append(args, b.ContextDir)
	start := time.Now()
	s, _, stderr, err := Exec(ctx, Command{Path: t.Bin, Args: args, Env: t.Env})
	if err != nil {
		return s, err
	}
	work, err := StepWork(stderr)
	if err != nil {
		return s, fmt.Errorf("read builder progress: %w", err)
	}
	s.Work = work
	s.Phases, err = PhaseTimes(stderr, start, start.Add(s.Wall))
	if err != nil {
		return s, fmt.Errorf("read builder progress: %w", err)
	}
	return s, nil
}

// progressEvent is the part of builder's --progress json events read here.
type progressEvent struct {
	Time     time.Time     `json:"time"`
	Vertex   int           `json:"vertex"`
	Name     string        `json:"name"`
	Status   string        `json:"status"`
	Duration time.Duration `json:"duration"`
	Data     string        `json:"data"`
}

// stepName matches the Dockerfile steps that do real work when they miss
// the cache: "[stage 2/4] RUN ...".
var stepName = regexp.MustCompile(`\] (RUN|COPY|ADD)\b`)

// StepWork reads builder's JSON progress stream and returns the length of
// the union of the intervals of RUN/COPY/ADD steps that ran (status "done",
// not "cached"), so that parallel steps count once.
func StepWork(progress []byte) (time.Duration, error) {
	type span struct{ from, to time.Time }
	var spans []span
	err := eachEvent(progress, func(e progressEvent) error {
		if e.Status == "done" && e.Vertex > 0 && stepName.MatchString(e.Name) {
			spans = append(spans, span{e.Time.Add(-e.Duration), e.Time})
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].from.Before(spans[j].from) })
	var total time.Duration
	var cur span
	for i, s := range spans {
		switch {
		case i == 0:
			cur = s
		case !s.from.After(cur.to):
			if s.to.After(cur.to) {
				cur.to = s.to
			}
		default:
			total += cur.to.Sub(cur.from)
			cur = s
		}
	}
	if len(spans) > 0 {
		total += cur.to.Sub(cur.from)
	}
	return total, nil
}

// Buildah runs Debian's buildah (`bud --isolation chroot --layers`) with its
// storage in Root/RunRoot and the busybox image copied into it from the
// registry as localhost/busybox (with skopeo), built with --pull=never.
type Buildah struct {
	Bin, Root, RunRoot, Driver string
	// BaseRef is "127.0.0.1:PORT/busybox:latest".
	BaseRef string
	// Skopeo is the skopeo binary, used to put the base image in place.
	Skopeo string
	// Jobs is --jobs, the stages built in parallel (0: 1).
	Jobs int
	Env  []string
}

// Name returns "buildah".
func (t *Buildah) Name() string { return "buildah" }

func (t *Buildah) global() []string {
	return []string{"--root", t.Root, "--runroot", t.RunRoot, "--storage-driver", t.Driver}
}

func (t *Buildah) run(ctx context.Context, args ...string) (Sample, []byte, error) {
	s, out, _, err := Exec(ctx, Command{Path: t.Bin, Args: append(t.global(), args...), Env: t.Env})
	return s, out, err
}

// Reset removes the storage and copies the busybox image from the registry
// into a new one as localhost/busybox:latest with skopeo, so that `FROM
// busybox` resolves without a pull.
func (t *Buildah) Reset(ctx context.Context) error {
	if err := t.Close(ctx); err != nil {
		return err
	}
	dest := fmt.Sprintf("containers-storage:[%s@%s+%s]localhost/busybox:latest", t.Driver, t.Root, t.RunRoot)
	_, _, _, err := Exec(ctx, Command{Path: t.Skopeo, Env: t.Env,
		Args: []string{"copy", "--quiet", "--src-tls-verify=false", "docker://" + t.BaseRef, dest}})
	if err != nil {
		return fmt.Errorf("copy busybox into buildah storage: %w", err)
	}
	return nil
}

// Close removes the storage (after unmounting what buildah left mounted
// under it, if anything).
func (t *Buildah) Close(ctx context.Context) error {
	if _, err := os.Stat(t.Root); err == nil {
		// Removes working containers; failure is fine when there are none.
		_, _, _ = t.run(ctx, "rm", "--all")
	}
	if err := removeTree(t.Root); err != nil {
		return err
	}
	return removeTree(t.RunRoot)
}

// Build runs `buildah bud`, then `buildah push` to an OCI archive or the
// registry when asked; the sample covers both.
func (t *Buildah) Build(ctx context.Context, b Build) (Sample, error) {
	jobs := max(t.Jobs, 1)
	s, _, err := t.run(ctx, "bud", "--isolation", "chroot", "--layers", "--pull=never",
		"--jobs", strconv.Itoa(jobs), "--quiet", "-f", b.Dockerfile, "-t", b.Tag, b.ContextDir)
	if err != nil || (b.OCITar == "" && b.Push == "") {
		return s, err
	}
	dest := "oci-archive:" + b.OCITar + ":latest"
	if b.Push != "" {
		dest = "docker://" + b.Push
	}
	p, _, err := t.run(ctx, "push", "--quiet", "--tls-verify=false", b.Tag, dest)
	return s.Add(p), err
}

// removeTree unmounts (lazily) any mount point under dir, then removes it.
func removeTree(dir string) error {
	if dir == "" {
		return nil
	}
	for _, m := range mountsUnder(dir) {
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount %s: %w", m, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	return nil
}

// mountsUnder lists the mount points at or below dir, deepest first.
func mountsUnder(dir string) []string {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	dir = filepath.Clean(dir)
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		mp := unescapeOctal(f[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(out)))
	return out
}

func unescapeOctal(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
