package build

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/executor"
	"github.com/builderdev/builder/internal/mount"
	"github.com/builderdev/builder/snapshot"
)

// detected is what the isolation and snapshotter probes found for one
// environment: the probes re-exec this binary in new namespaces and mount
// an overlay, tens of milliseconds that a no-op rebuild would otherwise
// pay every time. It is kept in the store (detectFile) under the
// fingerprint of everything the probes' outcome depends on.
type detected struct {
	Fingerprint string             `json:"fingerprint"`
	Level       executor.Isolation `json:"level"`
	Snapshotter string             `json:"snapshotter"`
}

const detectFile = "detected-isolation.json"

// environment is the fingerprint of what decides which isolation level
// and snapshotter work here: the kernel, this process's ids,
// capabilities, seccomp and no_new_privs state, its namespaces and id
// maps, the binary the namespace probe re-executes, the file system the
// snapshots live on and the fuse-overlayfs on PATH. "" if any of it
// cannot be read (then nothing is remembered).
func environment(workDir string) string {
	h := sha256.New()
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	fmt.Fprintf(h, "%s %s %s\n", bytes.TrimRight(u.Release[:], "\x00"), bytes.TrimRight(u.Version[:], "\x00"), bytes.TrimRight(u.Machine[:], "\x00"))
	fmt.Fprintf(h, "ids %d %d\n", os.Geteuid(), os.Getegid())
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return ""
	}
	for _, line := range bytes.Split(status, []byte("\n")) {
		for _, k := range []string{"CapEff:", "CapBnd:", "CapPrm:", "Seccomp:", "NoNewPrivs:"} {
			if bytes.HasPrefix(line, []byte(k)) {
				fmt.Fprintf(h, "%s\n", line)
			}
		}
	}
	for _, f := range []string{"/proc/self/uid_map", "/proc/self/gid_map", "/proc/self/setgroups"} {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			return ""
		}
		fmt.Fprintf(h, "%s %q\n", f, b)
	}
	for _, ns := range []string{"mnt", "user", "pid", "net", "uts", "ipc", "cgroup"} {
		l, err := os.Readlink("/proc/self/ns/" + ns)
		if err != nil {
			return ""
		}
		fmt.Fprintf(h, "%s\n", l)
	}
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	fi, err := os.Stat(exe)
	if err != nil {
		return ""
	}
	fmt.Fprintf(h, "exe %s %d %d\n", exe, fi.Size(), fi.ModTime().UnixNano())
	var fs unix.Statfs_t
	if err := unix.Statfs(workDir, &fs); err != nil {
		return ""
	}
	fmt.Fprintf(h, "fs %x %v\n", fs.Type, fs.Fsid)
	fuse, _ := exec.LookPath(mount.FuseOverlay) // the snapshotter where overlay fails
	fmt.Fprintf(h, "fuse %s\n", fuse)
	return hex.EncodeToString(h.Sum(nil))
}

// rememberedDetection returns what the probes found in this environment
// before, if the store remembers it.
func rememberedDetection(root, fingerprint string) (detected, bool) {
	var d detected
	b, err := os.ReadFile(filepath.Join(root, detectFile))
	if fingerprint == "" || err != nil || json.Unmarshal(b, &d) != nil || d.Fingerprint != fingerprint {
		return detected{}, false
	}
	return d, true
}

// rememberDetection keeps d in the store, replacing what was there
// (atomically: a concurrent build reads the old or the new record). A
// failure to write only costs the next build the probes.
func rememberDetection(root string, d detected) {
	if d.Fingerprint == "" {
		return
	}
	b, err := json.Marshal(d)
	if err != nil {
		return
	}
	f, err := os.CreateTemp(root, detectFile+".tmp-")
	if err != nil {
		return
	}
	_, werr := f.Write(b)
	if cerr := f.Close(); werr != nil || cerr != nil || os.Rename(f.Name(), filepath.Join(root, detectFile)) != nil {
		os.Remove(f.Name())
	}
}

// snapshotterOf makes the snapshotter of kind (as snapshot.Detect names
// them) in work.
func snapshotterOf(kind, work string) (snapshot.Snapshotter, error) {
	switch kind {
	case "overlay":
		return snapshot.NewOverlay(work)
	case "copy":
		return snapshot.NewCopy(work)
	case mount.FuseOverlay:
		return snapshot.NewFuseOverlay(work)
	}
	return nil, fmt.Errorf("unknown snapshotter %q", kind)
}
