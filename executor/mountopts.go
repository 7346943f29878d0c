package executor

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/mount"
)

// mountOne mounts m at the host path target.
func mountOne(m mount.Mount, target string) error {
	flags, data := mount.ParseOptions(m.Options)
	if m.Dir != "" {
		if err := unix.Chdir(m.Dir); err != nil {
			return fmt.Errorf("mount %s: %w", m.Target, err)
		}
		defer unix.Chdir("/")
	}
	if m.Type == "bind" || flags&unix.MS_BIND != 0 {
		return bindMount(m, target, flags, data)
	}
	if m.Type == mount.FuseOverlay {
		if err := m.MountAt(target); err != nil {
			return fmt.Errorf("mount %s: %w", nameOf(m), err)
		}
		return nil
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

func bindMount(m mount.Mount, target string, flags uintptr, data string) error {
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

func nameOf(m mount.Mount) string {
	if m.Target == "" {
		return "root (" + m.Source + ")"
	}
	return m.Target
}
