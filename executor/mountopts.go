package executor

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// mountFlag maps an fstab option to the flag it sets (clear: it clears it).
type mountFlag struct {
	clear bool
	flag  uintptr
}

func lookupFlag(opt string) (mountFlag, bool) {
	switch opt {
	case "ro":
		return mountFlag{false, unix.MS_RDONLY}, true
	case "rw":
		return mountFlag{true, unix.MS_RDONLY}, true
	case "nosuid":
		return mountFlag{false, unix.MS_NOSUID}, true
	case "suid":
		return mountFlag{true, unix.MS_NOSUID}, true
	case "nodev":
		return mountFlag{false, unix.MS_NODEV}, true
	case "dev":
		return mountFlag{true, unix.MS_NODEV}, true
	case "noexec":
		return mountFlag{false, unix.MS_NOEXEC}, true
	case "exec":
		return mountFlag{true, unix.MS_NOEXEC}, true
	case "noatime":
		return mountFlag{false, unix.MS_NOATIME}, true
	case "nodiratime":
		return mountFlag{false, unix.MS_NODIRATIME}, true
	case "relatime":
		return mountFlag{false, unix.MS_RELATIME}, true
	case "strictatime":
		return mountFlag{false, unix.MS_STRICTATIME}, true
	case "sync":
		return mountFlag{false, unix.MS_SYNCHRONOUS}, true
	case "bind":
		return mountFlag{false, unix.MS_BIND}, true
	case "rbind":
		return mountFlag{false, unix.MS_BIND | unix.MS_REC}, true
	}
	return mountFlag{}, false
}

// parseOptions splits fstab-style options into flags and file system data.
func parseOptions(opts []string) (uintptr, string) {
	var flags uintptr
	var data []string
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
			// Everything below the root is private already.
			continue
		}
		data = append(data, o)
	}
	return flags, strings.Join(data, ",")
}

// mountOne mounts m at the host path target.
func mountOne(m Mount, target string) error {
	flags, data := parseOptions(m.Options)
	if m.Dir != "" {
		if err := unix.Chdir(m.Dir); err != nil {
			return fmt.Errorf("mount %s: %w", m.Target, err)
		}
		defer unix.Chdir("/")
	}
	if m.Type == "bind" || flags&unix.MS_BIND != 0 {
		return bindMount(m, target, flags, data)
	}
	source := m.Source
	if source == "" {
		source = m.Type
	}
	if err := unix.Mount(source, target, m.Type, flags, data); err != nil {
		return fmt.Errorf("mount %s %s: %w", m.Type, nameOf(m), err)
	}
	return nil
}

func bindMount(m Mount, target string, flags uintptr, data string) error {
	bind := uintptr(unix.MS_BIND) | flags&unix.MS_REC
	if err := unix.Mount(m.Source, target, "", bind, data); err != nil {
		return fmt.Errorf("bind %s: %w", nameOf(m), err)
	}
	rest := flags &^ (unix.MS_BIND | unix.MS_REC)
	if rest == 0 {
		return nil
	}
	// Bind mounts take their flags only on a remount. Keep the flags the
	// source mount has that may not be cleared (nodev, nosuid, ...).
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err == nil {
		rest |= statfsFlags(st.Flags)
	}
	if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|rest, ""); err != nil {
		return fmt.Errorf("remount %s: %w", nameOf(m), err)
	}
	if rest&unix.MS_RDONLY != 0 && flags&unix.MS_REC != 0 {
		// Read-only for every submount too.
		attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		err := unix.MountSetattr(unix.AT_FDCWD, target, unix.AT_RECURSIVE, attr)
		if err != nil && !errors.Is(err, unix.ENOSYS) {
			return fmt.Errorf("make %s read-only: %w", nameOf(m), err)
		}
	}
	return nil
}

// statfsFlags turns statfs ST_* flags into the MS_* flags a bind remount
// must keep.
func statfsFlags(f int64) uintptr {
	var out uintptr
	for st, ms := range map[int64]uintptr{
		unix.ST_NOSUID: unix.MS_NOSUID, unix.ST_NODEV: unix.MS_NODEV,
		unix.ST_NOEXEC: unix.MS_NOEXEC, unix.ST_NOATIME: unix.MS_NOATIME,
		unix.ST_NODIRATIME: unix.MS_NODIRATIME, unix.ST_RELATIME: unix.MS_RELATIME,
	} {
		if f&st != 0 {
			out |= ms
		}
	}
	return out
}

func nameOf(m Mount) string {
	if m.Target == "" {
		return "root (" + m.Source + ")"
	}
	return m.Target
}
