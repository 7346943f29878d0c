package solver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/executor"
	"github.com/builderdev/builder/internal/mount"
	"github.com/builderdev/builder/internal/user"
	"github.com/builderdev/builder/parser"
	"github.com/builderdev/builder/snapshot"
)

// defaultShell is Docker's SHELL on Linux.
var defaultShell = []string{"/bin/sh", "-c"}

// runArgs turns a RUN instruction into the process arguments, the way
// BuildKit does: shell form through SHELL, exec form as is, a RUN made of a
// heredoc alone runs its body as a script.
func runArgs(r *parser.Run, shell []string) (args []string, script *parser.Heredoc) {
	if len(shell) == 0 {
		shell = defaultShell
	}
	if !r.Shell {
		return r.Cmd, nil
	}
	cmd := strings.Join(r.Cmd, " ")
	if len(r.Heredocs) == 1 && isHeredocOnly(cmd, r.Heredocs[0]) {
		h := r.Heredocs[0]
		if strings.HasPrefix(h.Content, "#!") {
			return nil, &h
		}
		return append(append([]string(nil), shell...), h.Content), nil
	}
	if len(r.Heredocs) > 0 {
		// The shell understands heredocs itself: hand it the full text.
		var sb strings.Builder
		sb.WriteString(cmd)
		for _, h := range r.Heredocs {
			sb.WriteString("\n")
			sb.WriteString(h.Content)
			if !strings.HasSuffix(h.Content, "\n") && h.Content != "" {
				sb.WriteString("\n")
			}
			sb.WriteString(h.Name)
		}
		cmd = sb.String()
	}
	return append(append([]string(nil), shell...), cmd), nil
}

func isHeredocOnly(cmd string, h parser.Heredoc) bool {
	c := strings.TrimSpace(cmd)
	c = strings.TrimPrefix(c, "<<")
	c = strings.TrimPrefix(c, "-")
	c = strings.Trim(c, `"'`)
	return c == h.Name
}

// withPath adds Docker's default PATH when the environment has none.
func withPath(env []string) []string {
	if hasEnv(env, "PATH") {
		return env
	}
	return append(append([]string(nil), env...), "PATH="+defaultPath)
}

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// execRun runs one RUN step over a fresh snapshot of st and returns the
// layer of what it changed.
func (b *build) execRun(ctx context.Context, v *vertex, st *state, r *parser.Run, env []string) (v1.Layer, error) {
	security, err := b.runSecurity(r)
	if err != nil {
		return nil, err
	}
	if b.s.exec == nil || b.s.snap == nil {
		return nil, errors.New("RUN needs an executor and a snapshotter; none is available here")
	}
	if err := b.s.canRun(st.platform); err != nil {
		return nil, err
	}
	started := time.Now()
	dirs, err := b.lowerDirs(ctx, st)
	if err != nil {
		return nil, err
	}
	b.phase(v, PhaseExtract, started)
	view := snapshot.NewView(dirs)
	id, err := user.Resolve(view, userOrRoot(st.cfg.Config.User))
	if err != nil {
		return nil, fmt.Errorf("resolve user: %w", err)
	}
	if !hasEnv(env, "HOME") {
		home := id.Home
		if home == "" {
			home = "/"
		}
		env = append(env, "HOME="+home)
	}
	args, script := runArgs(r, st.cfg.Config.Shell)

	active, err := b.s.snap.Prepare(ctx, dirs)
	if err != nil {
		return nil, fmt.Errorf("prepare root: %w", err)
	}
	defer active.Release(context.WithoutCancel(ctx))

	tmp, err := b.s.store.MkdirTemp(ctx, "run-*")
	if err != nil {
		return nil, fmt.Errorf("create run dir: %w", err)
	}
	defer os.RemoveAll(tmp)

	// An executor that cannot mount gets the mounts' content placed into
	// the root instead (see place.go).
	placing := executor.PlacesMounts(b.s.exec)
	var caches map[string]bool
	if placing {
		caches = map[string]bool{}
	}
	mounts, extraEnv, cleanup, err := b.runMounts(ctx, st, r, tmp, caches)
	defer cleanup()
	if err != nil {
		return nil, err
	}
	env = append(env, extraEnv...)
	if script != nil {
		p := filepath.Join(tmp, "script")
		if err := os.WriteFile(p, []byte(script.Content), 0o755); err != nil {
			return nil, fmt.Errorf("write heredoc script: %w", err)
		}
		target := "/dev/pipes/" + script.Name
		mounts = append(mounts, mount.Mount{Type: "bind", Source: p, Target: target, Options: []string{"bind", "ro"}})
		args = []string{target}
	}

	var placed *placement
	if placing && len(mounts) > 0 {
		root, err := plainRoot(active.Mounts())
		if err != nil {
			return nil, err
		}
		placed, err = placeMounts(ctx, root, tmp, mounts, caches)
		defer placed.undo()
		if err != nil {
			return nil, fmt.Errorf("place RUN --mount content: %w", err)
		}
		mounts = nil
	}

	tail := newTail(8)
	// stdout and stderr are one pipe, as with docker build: the output and
	// its last lines keep the order the step wrote them in.
	output := &logWriter{r: b.reporter(), vertex: v.num, name: v.name, stream: 1, tail: tail}
	network := r.Network
	if network == "" || network == "default" {
		network = "host"
	}
	spec := executor.Spec{
		RootMounts: active.Mounts(),
		Args:       args,
		Env:        env,
		Cwd:        workdirOrRoot(st.cfg.Config.WorkingDir),
		UID:        id.UID,
		GID:        id.GID,
		Groups:     withPrimary(id.GID, id.Groups),
		Hostname:   "buildkitsandbox",
		Network:    network,
		Mounts:     mounts,
		Output:     output,
		Limits:     b.req.Limits,
		Security:   security,
	}
	started = time.Now()
	runErr := b.s.exec.Run(ctx, spec)
	// The step's processes are gone: take the placed content out (also
	// after a failure or a cancel), before anything reads the root.
	if err := placed.undo(); err != nil && runErr == nil {
		return nil, fmt.Errorf("take RUN --mount content out of the root: %w", err)
	}
	if runErr != nil {
		return nil, runError(runErr, args, tail.Lines())
	}
	b.phase(v, PhaseRun, started)

	started = time.Now()
	l, err := b.writeLayer(ctx, func(w io.Writer) error {
		if err := active.Diff(ctx, w); err != nil {
			return fmt.Errorf("diff root: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	b.phase(v, PhaseDiffCompress, started)
	// The upper directory is the extracted form of the new layer: later
	// steps use it as a lower directory instead of extracting the tar.
	if up, ok := active.(snapshot.Upper); ok {
		if id, err := l.DiffID(); err == nil {
			if _, err := b.s.layers.Adopt(id, up.UpperDir()); err != nil {
				return nil, err
			}
		}
	}
	return l, nil
}

// plainRoot is the directory of a root that is one plain bind (a copy
// snapshot), the only kind content can be placed into.
func plainRoot(ms []mount.Mount) (string, error) {
	if len(ms) != 1 || ms[0].Type != "bind" || (ms[0].Target != "" && ms[0].Target != "/") {
		return "", errors.New("RUN --mount without mount privileges needs a copy snapshot root")
	}
	return ms[0].Source, nil
}

// runSecurity is the security mode a RUN step runs in: the build's
// --security=insecure makes every step insecure; RUN --security=insecure
// needs --allow security.insecure, as BuildKit's entitlement does.
func (b *build) runSecurity(r *parser.Run) (string, error) {
	if b.req.Security == executor.SecurityInsecure {
		return executor.SecurityInsecure, nil
	}
	if r.Security == executor.SecurityInsecure && !b.req.AllowSecurityInsecure {
		return "", errors.New("RUN --security=insecure is not allowed: pass --allow security.insecure to the build")
	}
	if r.Security == "" {
		return executor.SecuritySandbox, nil
	}
	return r.Security, nil
}

// withPrimary puts the primary gid first in the supplementary groups, as
// containerd's WithAdditionalGIDs does for BuildKit.
func withPrimary(gid uint32, groups []uint32) []uint32 {
	out := []uint32{gid}
	for _, g := range groups {
		if g != gid {
			out = append(out, g)
		}
	}
	return out
}

func runError(err error, args []string, tail []string) error {
	var ee *executor.ExitError
	if !errors.As(err, &ee) {
		return fmt.Errorf("run %q: %w", strings.Join(args, " "), err)
	}
	msg := fmt.Sprintf("process %q did not complete successfully: exit code: %d", strings.Join(args, " "), ee.Code)
	if ee.OOM {
		msg += " (killed: out of memory)"
	}
	if len(tail) > 0 {
		msg += "\n  last output:\n    " + strings.Join(tail, "\n    ")
	}
	return &StepError{Msg: msg, Code: ee.Code, Err: err}
}

// StepError is a RUN step that ran and failed.
type StepError struct {
	Msg  string
	Code int
	Err  error
}

func (e *StepError) Error() string { return e.Msg }
func (e *StepError) Unwrap() error { return e.Err }

// userOrRoot is the USER a step runs as: uid 0 when none is set (looked up
// in /etc/passwd when present, for HOME and groups).
func userOrRoot(u string) string {
	if u == "" {
		return "0"
	}
	return u
}

func workdirOrRoot(w string) string {
	if w == "" {
		return "/"
	}
	return path.Clean(w)
}

func hasEnv(env []string, k string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, k+"=") {
			return true
		}
	}
	return false
}

// run is RUN.
func (b *build) run(ctx context.Context, sr *stageRun, st *state, r *parser.Run, scope varGetter, env, withProxies []string) (*state, error) {
	env, withProxies = withPath(env), withPath(withProxies)
	args, _ := runArgs(r, st.cfg.Config.Shell)
	inputs := map[string]string{}
	var mounts []string
	for _, m := range r.Mounts {
		desc := fmt.Sprintf("type=%s,target=%s,source=%s,from=%s,ro=%t,id=%s,sharing=%s", m.Type, m.Target, m.Source, m.From, m.ReadOnly, m.ID, m.Sharing)
		if m.Type == parser.MountSecret || m.Type == parser.MountCache || m.Type == parser.MountTmpfs || m.Type == parser.MountSSH {
			desc = fmt.Sprintf("type=%s,target=%s,id=%s", m.Type, m.Target, m.ID) // contents never in the key
		}
		if m.Type == parser.MountCache {
			desc += cacheOwnerDesc(m)
		}
		mounts = append(mounts, desc)
		if m.Type == parser.MountBind || m.Type == "" || (m.Type == parser.MountCache && m.From != "") {
			sum, err := b.mountInput(ctx, m)
			if err != nil {
				return nil, b.failedStep(sr, "RUN "+strings.Join(r.Cmd, " "), err)
			}
			inputs["mount:"+m.Target] = sum
		}
	}
	shown := strings.Join(r.Cmd, " ")
	security, err := b.runSecurity(r)
	if err != nil {
		return nil, b.failedStep(sr, "RUN "+shown, err)
	}
	createdBy := "RUN " + runCommandString(args, st.buildArgs, scope)
	return b.layerStep(ctx, step{
		sr: sr, st: st,
		text:      "RUN " + shown,
		createdBy: createdBy + " # buildkit",
		key: keyInput{Kind: "run", Args: map[string]any{
			"args": args, "heredocs": r.Heredocs, "mounts": mounts, "network": r.Network, "security": security,
			"user": st.cfg.Config.User, "workdir": st.cfg.Config.WorkingDir, "shell": st.cfg.Config.Shell,
		}, Env: env, Inputs: inputs},
		exec: func(ctx context.Context, v *vertex) (v1.Layer, error) {
			return b.execRun(ctx, v, st, r, withProxies)
		},
	})
}

// varGetter looks a variable up in a stage's scope.
type varGetter interface {
	Get(name string) (string, bool)
}

// runCommandString is a RUN's history text after "RUN ", as BuildKit
// writes it: the stage's ARGs, in declaration order with a later
// declaration replacing an earlier one in place, each with its value in
// the scope (else its declared value, else empty), counted ("|2 A=1 B=2"),
// then the arguments.
func runCommandString(args []string, buildArgs []parser.ArgDef, scope varGetter) string {
	var kvs []string
	idx := map[string]int{}
	for _, a := range buildArgs {
		v, ok := scope.Get(a.Key)
		if !ok && a.Value != nil {
			v = *a.Value
		}
		if i, ok := idx[a.Key]; ok {
			kvs[i] = a.Key + "=" + v
			continue
		}
		idx[a.Key] = len(kvs)
		kvs = append(kvs, a.Key+"="+v)
	}
	if len(kvs) > 0 {
		kvs = append([]string{fmt.Sprintf("|%d", len(kvs))}, kvs...)
	}
	return strings.Join(append(kvs, args...), " ")
}
