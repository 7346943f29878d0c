package snapshot

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Mount describes one mount making up a root file system.
//
// Dir, when set, is the directory relative option paths (lowerdir, upperdir,
// workdir) are relative to: a caller may chdir there before mount(2), or use
// MountAt, which needs no chdir.
type Mount struct {
	Type    string
	Source  string
	Options []string
	Dir     string
}

// pageLimit is the size limit of the mount(2) data string, less a margin.
const pageLimit = 4000

// MountAt mounts m at target in the calling thread's mount namespace.
// Relative paths in overlay options are resolved against m.Dir without
// changing the working directory: they are made absolute when that fits in a
// page, or else reached through /proc/self/fd.
func (m Mount) MountAt(target string) error {
	flags, data := splitOptions(m.Options)
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
	if err := unix.Mount(m.Source, target, m.Type, uintptr(flags), data); err != nil {
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

// splitOptions separates the mount flags we know from fs-specific data.
func splitOptions(opts []string) (int, string) {
	flags := 0
	var data []string
	for _, o := range opts {
		switch o {
		case "ro":
			flags |= unix.MS_RDONLY
		case "rw", "bind", "rbind":
		case "nosuid":
			flags |= unix.MS_NOSUID
		case "nodev":
			flags |= unix.MS_NODEV
		case "noexec":
			flags |= unix.MS_NOEXEC
		default:
			data = append(data, o)
		}
	}
	return flags, strings.Join(data, ",")
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
