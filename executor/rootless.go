package executor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/userns"
)

// The rootless level is the namespace level run by root of a user
// namespace (the one RunInUserNamespace makes for a non-root user, or one
// the caller is in already): the same stage 1 and stage 2, with what a
// user namespace cannot do replaced — the host's /sys is bound read-only
// where a fresh sysfs may not be mounted (the host network namespace),
// /dev/pts is mounted without gid=5 where gid 5 is not mapped, and limits
// need a cgroup v2 subtree delegated to the user.

func newRootless(o options) (*namespaceExecutor, error) {
	if !userns.Inside() || os.Geteuid() != 0 {
		return nil, fmt.Errorf("isolation %q needs root of a user namespace: run builder as the user itself (it makes one) or under `unshare -r`", Rootless)
	}
	e, err := newNamespace(o)
	if err != nil {
		return nil, err
	}
	e.rootless = true
	return e, nil
}

// rootlessCgroup makes the step's cgroup at the rootless level, or says
// exactly what is missing for its limits.
func rootlessCgroup(l Limits) (*cgroup, error) {
	if l.Memory <= 0 && l.CPUs <= 0 && l.Pids <= 0 {
		return &cgroup{}, nil
	}
	fsys, err := detectCgroups()
	if err != nil {
		return nil, err
	}
	if err := checkDelegated(fsys, l); err != nil {
		return nil, err
	}
	cg, err := newCgroup(l)
	if err != nil {
		return nil, fmt.Errorf("set limits at the %s level: %w", Rootless, err)
	}
	return cg, nil
}

// checkDelegated checks that every controller l needs is a cgroup v2
// controller of a subtree this user may write.
func checkDelegated(fsys *cgroupFS, l Limits) error {
	type need struct{ flag, ctrl string }
	var needs []need
	if l.Memory > 0 {
		needs = append(needs, need{"--memory", "memory"})
	}
	if l.CPUs > 0 {
		needs = append(needs, need{"--cpus", "cpu"})
	}
	if l.Pids > 0 {
		needs = append(needs, need{"--pids-limit", "pids"})
	}
	host, _ := userns.HostUID(0)
	hint := fmt.Sprintf("a cgroup v2 subtree delegated to uid %d (e.g. systemd-run --user --scope -p Delegate=yes builder ...)", host)
	for _, n := range needs {
		if dir, ok := fsys.v1[n.ctrl]; ok {
			return fmt.Errorf("%s at the %s level needs %s: the %q controller is a cgroup v1 hierarchy here (%s), which a user namespace cannot be given",
				n.flag, Rootless, hint, n.ctrl, dir)
		}
		if fsys.v2 == "" {
			return fmt.Errorf("%s at the %s level needs %s: no cgroup v2 file system is mounted", n.flag, Rootless, hint)
		}
		if !fsys.v2Ctrls[n.ctrl] {
			have := make([]string, 0, len(fsys.v2Ctrls))
			for c := range fsys.v2Ctrls {
				have = append(have, c)
			}
			return fmt.Errorf("%s at the %s level needs %s: the %q controller is not delegated to %s (it has: %s)",
				n.flag, Rootless, hint, n.ctrl, fsys.v2, strings.Join(have, " "))
		}
	}
	if err := unix.Access(fsys.v2, unix.W_OK); err != nil {
		return fmt.Errorf("%s at the %s level needs %s: %s is not writable: %w",
			needs[0].flag, Rootless, hint, fsys.v2, err)
	}
	sub := filepath.Join(fsys.v2, "cgroup.subtree_control")
	if err := unix.Access(sub, unix.W_OK); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("%s at the %s level needs %s: %s is not writable: %w",
			needs[0].flag, Rootless, hint, sub, err)
	}
	return nil
}
