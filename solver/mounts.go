package solver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/builderdev/builder/internal/mount"
	"github.com/builderdev/builder/parser"
	"github.com/builderdev/builder/snapshot"
)

// Secret is where a --secret comes from: a file or an environment variable
// of the builder's own process (read once, never put in a layer or key).
type Secret struct {
	Src string
	Env string
}

func (s Secret) read() ([]byte, error) {
	if s.Env != "" {
		v, ok := os.LookupEnv(s.Env)
		if !ok {
			return nil, fmt.Errorf("environment variable %s is not set", s.Env)
		}
		return []byte(v), nil
	}
	return os.ReadFile(s.Src)
}

// runMounts turns RUN --mount flags into executor mounts. cleanup releases
// locks and temporary files; it is safe to call even when err != nil.
// caches, when not nil, gets the source of every cache mount; with it a
// shared cache is taken exclusively (it is moved into one step's root).
func (b *build) runMounts(ctx context.Context, st *state, r *parser.Run, tmp string, caches map[string]bool) (mounts []mount.Mount, env []string, cleanup func(), err error) {
	var undo []func()
	cleanup = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	nSSH := 0
	for i, m := range r.Mounts {
		target := m.Target
		if target != "" && !path.IsAbs(target) {
			target = path.Join(workdirOrRoot(st.cfg.Config.WorkingDir), target)
		}
		switch m.Type {
		case "tmpfs":
			opts := []string{"mode=1777"}
			if m.Size > 0 {
				opts = append(opts, "size="+strconv.FormatInt(m.Size, 10))
			}
			mounts = append(mounts, mount.Mount{Type: "tmpfs", Source: "tmpfs", Target: target, Options: opts})
		case "cache":
			dir, release, err := b.cacheMount(ctx, m, target, tmp, i, caches != nil)
			if err != nil {
				return mounts, env, cleanup, err
			}
			undo = append(undo, release)
			if caches != nil {
				caches[dir] = true
			}
			opts := []string{"rbind"}
			if m.ReadOnly {
				opts = append(opts, "ro")
			}
			mounts = append(mounts, mount.Mount{Type: "bind", Source: dir, Target: target, Options: opts})
		case "bind", "":
			mm, err := b.bindMount(ctx, m, target, filepath.Join(tmp, fmt.Sprintf("bind%d", i)))
			if err != nil {
				return mounts, env, cleanup, err
			}
			mounts = append(mounts, mm)
		case "secret":
			sec, ok := b.req.Secrets[m.ID]
			if !ok {
				if m.Required {
					return mounts, env, cleanup, fmt.Errorf("secret %s: required but not provided (use --secret id=%s,src=FILE)", m.ID, m.ID)
				}
				continue
			}
			data, err := sec.read()
			if err != nil {
				return mounts, env, cleanup, fmt.Errorf("secret %s: %w", m.ID, err)
			}
			if m.Env != nil {
				env = append(env, *m.Env+"="+string(data))
				if m.Target == "" {
					continue
				}
			}
			if target == "" {
				target = "/run/secrets/" + m.ID
			}
			p := filepath.Join(tmp, fmt.Sprintf("secret%d", i))
			mode := os.FileMode(0o400)
			if m.Mode != nil {
				mode = os.FileMode(*m.Mode)
			}
			if err := os.WriteFile(p, data, mode); err != nil {
				return mounts, env, cleanup, fmt.Errorf("secret %s: %w", m.ID, err)
			}
			if err := os.Chown(p, int(valueOr(m.UID, 0)), int(valueOr(m.GID, 0))); err != nil {
				return mounts, env, cleanup, fmt.Errorf("secret %s: %w", m.ID, err)
			}
			mounts = append(mounts, mount.Mount{Type: "bind", Source: p, Target: target, Options: []string{"bind", "ro", "nosuid", "nodev", "noexec"}})
		case "ssh":
			mm, proxy, err := b.sshMount(ctx, m, target, filepath.Join(tmp, fmt.Sprintf("ssh%d", i)), nSSH)
			if err != nil {
				return mounts, env, cleanup, err
			}
			if proxy == nil {
				continue
			}
			undo = append(undo, func() { _ = proxy.close() })
			if nSSH == 0 {
				env = append(env, "SSH_AUTH_SOCK="+mm.Target)
			}
			nSSH++
			mounts = append(mounts, mm)
		default:
			return mounts, env, cleanup, fmt.Errorf("mount type %q is not supported", m.Type)
		}
	}
	return mounts, env, cleanup, nil
}

// sshMount serves the --ssh agent of m's id (default "default") at a new
// socket for the step, at target (default /run/buildkit/ssh_agent.N, as
// BuildKit). A missing agent is skipped unless the mount is required.
func (b *build) sshMount(ctx context.Context, m *parser.Mount, target, sock string, n int) (mount.Mount, *sshProxy, error) {
	id := m.ID
	if id == "" {
		id = "default"
	}
	agent, ok := b.req.SSH[id]
	if !ok {
		if m.Required {
			return mount.Mount{}, nil, fmt.Errorf("ssh %s: required but not provided (use --ssh %s=SOCKET, or --ssh default for $SSH_AUTH_SOCK)", id, id)
		}
		return mount.Mount{}, nil, nil
	}
	if target == "" {
		target = fmt.Sprintf("/run/buildkit/ssh_agent.%d", n)
	}
	mode := os.FileMode(0o600)
	if m.Mode != nil {
		mode = os.FileMode(*m.Mode)
	}
	p, err := newSSHProxy(ctx, sock, agent, int(valueOr(m.UID, 0)), int(valueOr(m.GID, 0)), mode)
	if err != nil {
		return mount.Mount{}, nil, fmt.Errorf("ssh %s: %w", id, err)
	}
	return mount.Mount{Type: "bind", Source: sock, Target: target, Options: []string{"bind", "ro", "nosuid", "nodev", "noexec"}}, p, nil
}

func valueOr[T any](p *T, d T) T {
	if p == nil {
		return d
	}
	return *p
}

// cacheMountKey is what names a cache mount's directory. BuildKit keys a
// cache by its id together with its base: the from= source seeding it, or
// the directory that uid=, gid= and mode= create (only when one of them is
// given and there is no source= path; unset ones are 0, 0 and 0755). So
// "uid=10" and "uid=20" at one target are two caches, "uid=10" and
// "uid=10,gid=0,mode=0755" one, and no option at all another.
type cacheMountKey struct {
	ID    string           `json:"id"`
	Base  string           `json:"base,omitempty"`
	Owner *cacheMountOwner `json:"owner,omitempty"`
}

type cacheMountOwner struct {
	UID  uint32 `json:"uid"`
	GID  uint32 `json:"gid"`
	Mode uint32 `json:"mode"`
}

// cacheMountDirName is the directory name of key: a digest of its JSON.
func cacheMountDirName(key cacheMountKey) (string, error) {
	data, err := json.Marshal(key)
	if err != nil {
		return "", fmt.Errorf("encode cache mount key: %w", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16]), nil
}

// cacheMountOwnerOf is the owner and mode part of m's key, nil when m sets
// none of uid, gid, mode or names a source= path.
func cacheMountOwnerOf(m *parser.Mount) *cacheMountOwner {
	if m.UID == nil && m.GID == nil && m.Mode == nil || path.Join("/", m.Source) != "/" {
		return nil
	}
	return &cacheMountOwner{UID: valueOr(m.UID, 0), GID: valueOr(m.GID, 0), Mode: valueOr(m.Mode, 0o755)}
}

// cacheOwnerDesc is the part of a RUN's cache key that says which owner and
// mode its cache mount m asks for (empty when none: keys stay as they were).
// Another owner is another cache, so the step must run again.
func cacheOwnerDesc(m *parser.Mount) string {
	var sb strings.Builder
	for _, o := range []struct {
		k string
		v *uint32
	}{{"uid", m.UID}, {"gid", m.GID}, {"mode", m.Mode}} {
		if o.v != nil {
			fmt.Fprintf(&sb, ",%s=%d", o.k, *o.v)
		}
	}
	return sb.String()
}

// cacheMount returns the persistent directory of a type=cache mount,
// honouring sharing=shared|private|locked. exclusive makes shared act as
// locked: at the chroot level the directory itself is moved into the
// step's root, so two steps cannot have it at once.
func (b *build) cacheMount(ctx context.Context, m *parser.Mount, target, tmp string, i int, exclusive bool) (string, func(), error) {
	id := m.ID
	if id == "" {
		id = target
	}
	nop := func() {}
	key := cacheMountKey{ID: id, Owner: cacheMountOwnerOf(m)}
	if m.From != "" {
		base, err := b.mountInput(ctx, m)
		if err != nil {
			return "", nop, err
		}
		key.Base = base
	}
	name, err := cacheMountDirName(key)
	if err != nil {
		return "", nop, fmt.Errorf("cache mount %s: %w", id, err)
	}
	mode := os.FileMode(0o755)
	if m.Mode != nil {
		mode = os.FileMode(*m.Mode)
	}
	var seedErr error
	var seed func(ctx context.Context, dir string) error
	if m.From != "" {
		seed = func(ctx context.Context, dir string) error {
			seedErr = b.seedCache(ctx, m, dir, filepath.Join(tmp, fmt.Sprintf("seed%d", i)))
			return seedErr
		}
	}
	// ensure creates the directory if it is missing, with its owner and
	// mode and seeded from its from= source.
	ensure := func() (string, error) {
		dir, err := b.s.cacheDirs.Ensure(ctx, name, mode, int(valueOr(m.UID, 0)), int(valueOr(m.GID, 0)), seed)
		if err != nil && seedErr != nil {
			return "", seedErr
		}
		if err != nil {
			return "", fmt.Errorf("cache mount %s: %w", id, err)
		}
		return dir, nil
	}
	sharing := m.Sharing
	if exclusive && (sharing == "" || sharing == "shared") {
		sharing = "locked"
	}
	switch sharing {
	case "", "shared":
		dir, err := ensure()
		return dir, nop, err
	case "locked", "private":
		// The lock comes first: at the chroot level the directory is away
		// (in a step's root) while its lock is held, and must not be
		// recreated meanwhile.
		unlock, err := b.s.cacheDirs.Lock(ctx, name, sharing == "private")
		if errors.Is(err, snapshot.ErrCacheBusy) {
			// In use elsewhere: a private mount gets a fresh directory.
			p := filepath.Join(tmp, fmt.Sprintf("cache%d", i))
			return p, nop, os.MkdirAll(p, 0o755)
		}
		if err != nil {
			return "", nop, fmt.Errorf("cache mount %s: %w", id, err)
		}
		dir, err := ensure()
		if err != nil {
			unlock()
			return "", nop, err
		}
		return dir, unlock, nil
	default:
		return "", nop, fmt.Errorf("cache mount %s: unknown sharing mode %q", id, m.Sharing)
	}
}

// sourceLowers returns the directories that make up a mount's source (its
// from= stage, image or named context, else the build context), top first.
// A local source (the build context, a directory context) is materialized
// under work as its FS shows it.
func (b *build) sourceLowers(ctx context.Context, m *parser.Mount, work string) ([]string, error) {
	source := path.Clean("/" + m.Source)
	if fsys, ok := b.localFS(m.From); ok {
		p, err := b.materializeLocal(ctx, fsys, m, work)
		if err != nil {
			return nil, err
		}
		return []string{p}, nil
	}
	st, err := b.sourceState(ctx, m.From)
	if err != nil {
		return nil, err
	}
	dirs, err := b.lowerDirs(ctx, st)
	if err != nil {
		return nil, err
	}
	resolved, err := snapshot.NewView(dirs).Resolve(source)
	if err != nil {
		return nil, fmt.Errorf("%s mount %s from %s: %w", m.Type, m.Source, m.From, err)
	}
	lowers, err := snapshot.Lowers(dirs, resolved)
	if err != nil {
		return nil, fmt.Errorf("%s mount %s from %s: %w", m.Type, m.Source, m.From, err)
	}
	return lowers, nil
}

// seedCache fills a new cache directory from the mount's from= source
// (BuildKit: "a base of the cache mount"); only directories can seed.
func (b *build) seedCache(ctx context.Context, m *parser.Mount, dst, work string) error {
	lowers, err := b.sourceLowers(ctx, m, work)
	if err != nil {
		return err
	}
	for i := len(lowers) - 1; i >= 0; i-- {
		fi, err := os.Stat(lowers[i])
		if err != nil {
			return fmt.Errorf("cache mount %s: %w", m.Target, err)
		}
		if !fi.IsDir() {
			return fmt.Errorf("cache mount %s: source %s from %s is not a directory", m.Target, m.Source, m.From)
		}
		if err := snapshot.CopyDir(ctx, lowers[i], dst); err != nil {
			return fmt.Errorf("cache mount %s: seed from %s: %w", m.Target, m.From, err)
		}
	}
	return nil
}

// bindMount mounts a path of the build context, a stage or an image.
// Read-only unless rw; with rw the writes go to a throwaway upper dir.
func (b *build) bindMount(ctx context.Context, m *parser.Mount, target, work string) (mount.Mount, error) {
	lowers, err := b.sourceLowers(ctx, m, work)
	if err != nil {
		return mount.Mount{}, err
	}
	if target == "" {
		return mount.Mount{}, errors.New("bind mount needs a target")
	}
	mm, err := snapshot.BindMount(lowers, target, work, m.ReadOnly)
	if err != nil {
		return mount.Mount{}, fmt.Errorf("bind mount %s: %w", m.Source, err)
	}
	return mm, nil
}

// mountInput is the cache-key input of a RUN bind mount: the content of
// what it mounts.
func (b *build) mountInput(ctx context.Context, m *parser.Mount) (string, error) {
	if fsys, ok := b.localFS(m.From); ok {
		return b.localMountInput(ctx, fsys, m)
	}
	src, err := b.sourceState(ctx, m.From)
	if err != nil {
		return "", err
	}
	return src.key.String() + ":" + m.Source, nil
}
