package testenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/builderdev/builder/executor"
)

// podCaps are Docker's 14 default capabilities, what a container of a
// Kubernetes pod with the default security context gets.
var podCaps = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}

// Pod describes the runc container WritePodConfig writes: by default an
// unprivileged pod as a Docker-like runtime makes it (root, Docker's 14
// capabilities, no_new_privs, the default seccomp profile, masked /proc
// paths, its own network).
type Pod struct {
	Args []string
	Env  []string // PATH, HOME and TMPDIR have defaults these override
	Cwd  string   // default /
	// UID and GID of the process. A non-root process keeps the 14
	// capabilities in its bounding set only (as Kubernetes' runAsUser does),
	// so a setuid helper such as newuidmap works unless NoNewPrivs is set.
	UID, GID int
	// Unconfined leaves seccomp off (seccompProfile: Unconfined), which
	// is what lets a non-root user create user namespaces.
	Unconfined bool
	// AllowPrivilegeEscalation clears no_new_privs.
	AllowPrivilegeEscalation bool
	// UnmaskedProc leaves /proc without masked and read-only paths
	// (procMount: Unmasked): a fresh /proc can only be mounted in a user
	// namespace where the pod's /proc is fully visible.
	UnmaskedProc bool
	// HostNetwork shares the host's network namespace (to reach a test
	// registry on 127.0.0.1).
	HostNetwork bool
}

// WritePodConfig writes bundle/config.json (root file system
// bundle/rootfs) for p.
func WritePodConfig(t testing.TB, bundle string, p Pod) {
	t.Helper()
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	home := "/root"
	if p.UID != 0 {
		home = "/home/builder"
	}
	caps := map[string]any{"bounding": podCaps, "effective": podCaps, "permitted": podCaps}
	if p.UID != 0 {
		caps = map[string]any{"bounding": podCaps}
	}
	namespaces := []any{map[string]any{"type": "pid"}, map[string]any{"type": "ipc"},
		map[string]any{"type": "uts"}, map[string]any{"type": "mount"}}
	if !p.HostNetwork {
		namespaces = append(namespaces, map[string]any{"type": "network"})
	}
	linux := map[string]any{
		"namespaces": namespaces,
		"resources": map[string]any{
			"devices": []any{map[string]any{"allow": false, "access": "rwm"}},
		},
	}
	if !p.UnmaskedProc {
		linux["maskedPaths"] = []string{"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys",
			"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
			"/proc/scsi", "/sys/firmware"}
		linux["readonlyPaths"] = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
	}
	if !p.Unconfined {
		linux["seccomp"] = executor.DefaultSeccompProfile()
	}
	mounts := []any{
		map[string]any{"destination": "/proc", "type": "proc", "source": "proc", "options": []string{"nosuid", "noexec", "nodev"}},
		map[string]any{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		map[string]any{"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		map[string]any{"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		map[string]any{"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": []string{"nosuid", "noexec", "nodev"}},
		map[string]any{"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": []string{"nosuid", "noexec", "nodev", "ro"}},
		map[string]any{"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
	}
	if p.HostNetwork {
		// A sysfs mount needs the network namespace's owner; bind the host's.
		mounts[5] = map[string]any{"destination": "/sys", "type": "bind", "source": "/sys", "options": []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
	}
	cfg := map[string]any{
		"ociVersion": "1.0.2",
		"process": map[string]any{
			"terminal":        false,
			"user":            map[string]any{"uid": p.UID, "gid": p.GID},
			"args":            p.Args,
			"env":             podEnv(p.Env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME="+home, "TMPDIR=/tmp"),
			"cwd":             cwd,
			"capabilities":    caps,
			"noNewPrivileges": !p.AllowPrivilegeEscalation,
		},
		"root":     map[string]any{"path": "rootfs", "readonly": false},
		"hostname": "builder-pod",
		"mounts":   mounts,
		"linux":    linux,
	}
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), mustJSON(t, cfg), 0o644); err != nil {
		t.Fatalf("write pod config: %v", err)
	}
}

// podEnv is env plus those of defaults whose names env does not set.
func podEnv(env []string, defaults ...string) []string {
	out := append([]string(nil), env...)
	for _, d := range defaults {
		name, _, _ := strings.Cut(d, "=")
		set := false
		for _, e := range env {
			if strings.HasPrefix(e, name+"=") {
				set = true
			}
		}
		if !set {
			out = append(out, d)
		}
	}
	return out
}
