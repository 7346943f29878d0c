package mount

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Mount is one mount: a root file system part (Target "" or "/") or a mount
// inside a step's root. Type is "bind", "tmpfs", "overlay" or any file
// system type; Options are fstab-style ("ro", "rbind", "nosuid",
// "size=64m", "lowerdir=..."). Dir, when set, is the directory relative
// option paths (lowerdir, upperdir, workdir) are relative to: a caller may
// chdir there before mount(2), or use MountAt, which needs no chdir.
type Mount struct {
	Type    string   `json:"type"`
	Source  string   `json:"source"`
	Target  string   `json:"target"`
	Options []string `json:"options,omitempty"`
	Dir     string   `json:"dir,omitempty"`
}

// flag is the mount flag an fstab option sets, or clears.
type flag struct {
	clear bool
	flag  uintptr
}

func lookupFlag(opt string) (flag, bool) {
	switch opt {
	case "ro":
		return flag{false, unix.MS_RDONLY}, true
	case "rw":
		return flag{true, unix.MS_RDONLY}, true
	case "nosuid":
		return flag{false, unix.MS_NOSUID}, true
	case "suid":
		return flag{true, unix.MS_NOSUID}, true
	case "nodev":
		return flag{false, unix.MS_NODEV}, true
	case "dev":
		return flag{true, unix.MS_NODEV}, true
	case "noexec":
		return flag{false, unix.MS_NOEXEC}, true
	case "exec":
		return flag{true, unix.MS_NOEXEC}, true
	case "noatime":
		return flag{false, unix.MS_NOATIME}, true
	case "nodiratime":
		return flag{false, unix.MS_NODIRATIME}, true
	case "relatime":
		return flag{false, unix.MS_RELATIME}, true
	case "strictatime":
		return flag{false, unix.MS_STRICTATIME}, true
	case "sync":
		return flag{false, unix.MS_SYNCHRONOUS}, true
	case "bind":
		return flag{false, unix.MS_BIND}, true
	case "rbind":
		return flag{false, unix.MS_BIND | unix.MS_REC}, true
	}
	return flag{}, false
}

// ParseOptions splits fstab-style options into mount(2) flags and the file
// system data string. Later options win ("ro,rw" is read-write).
// Propagation options and "defaults" are dropped: everything below a
// step's root is private already.
func ParseOptions(opts []string) (flags uintptr, data string) {
	var rest []string
	for _, o := range opts {
		if f, ok := lookupFlag(o); ok {
			if f.clear {
				flags &^= f.flag
			} else {
				flags |= f.flag
			}
			continue
		}
		switch o {
		case "private", "rprivate", "slave", "rslave", "shared", "rshared", "defaults":
			continue
		}
		rest = append(rest, o)
	}
	return flags, strings.Join(rest, ",")
}

// pageLimit is the size limit of the mount(2) data string, less a margin.
const pageLimit = 4000

// MountAt mounts m at target in the calling thread's mount namespace. A
// bind mount is recursive, and read-only when the options say "ro".
// Relative paths in overlay options are resolved against m.Dir without
// changing the working directory: they are made absolute when that fits in
// a page, or else reached through /proc/self/fd.
//
// Type FuseOverlay runs the fuse-overlayfs program named by Source (in
// m.Dir, so relative option paths work), which serves the mount until it is
// unmounted.
func (m Mount) MountAt(target string) error {
	flags, data := ParseOptions(m.Options)
	if m.Type == FuseOverlay {
		return m.fuseOverlayAt(target, data)
	}
	if m.Type == "bind" {
		if err := unix.Mount(m.Source, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("bind mount %s: %w", m.Source, err)
		}
		if flags&unix.MS_RDONLY != 0 {
			if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
				_ = unix.Unmount(target, unix.MNT_DETACH)
				return fmt.Errorf("remount %s read-only: %w", target, err)
			}
		}
		return nil
	}
	flags &^= unix.MS_BIND | unix.MS_REC
	if m.Dir != "" {
		abs := rebase(data, func(p string) string { return filepath.Join(m.Dir, p) })
		if len(abs) < pageLimit {
			data = abs
		} else {
			fd, err := unix.Open(m.Dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("open mount dir: %w", err)
			}
			defer unix.Close(fd)
			prefix := "/proc/self/fd/" + strconv.Itoa(fd)
			data = rebase(data, func(p string) string { return prefix + "/" + p })
		}
	}
	if len(data) >= pageLimit {
		return fmt.Errorf("mount %s: options too long (%d bytes)", m.Type, len(data))
	}
	if err := unix.Mount(m.Source, target, m.Type, flags, data); err != nil {
		return fmt.Errorf("mount %s at %s: %w", m.Type, target, err)
	}
	return nil
}

// Unmount unmounts target (not lazily: a busy root is an error).
func Unmount(target string) error {
	if err := unix.Unmount(target, 0); err != nil {
		return fmt.Errorf("unmount %s: %w", target, err)
	}
	return nil
}

// rebase rewrites relative paths in lowerdir=, upperdir= and workdir=.
func rebase(data string, f func(string) string) string {
	if data == "" {
		return data
	}
	parts := strings.Split(data, ",")
	for i, p := range parts {
		k, v, ok := strings.Cut(p, "=")
		if !ok || (k != "lowerdir" && k != "upperdir" && k != "workdir") {
			continue
		}
		paths := strings.Split(v, ":")
		for j, q := range paths {
			if q != "" && !filepath.IsAbs(q) {
				paths[j] = f(q)
			}
		}
		parts[i] = k + "=" + strings.Join(paths, ":")
	}
	return strings.Join(parts, ",")
}

// FuseOverlay is the Mount type of an overlay served by fuse-overlayfs (for
// user namespaces whose kernel cannot mount overlay there).
const FuseOverlay = "fuse-overlayfs"

func (m Mount) fuseOverlayAt(target, data string) error {
	cmd := exec.Command(m.Source, "-o", data, target)
	cmd.Dir = m.Dir
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("mount %s at %s: %w: %s", m.Type, target, err, strings.TrimSpace(string(out)))
	}
	return nil
}
