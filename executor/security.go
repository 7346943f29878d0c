package executor

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// defaultCaps are the capabilities Docker and BuildKit leave a step.
func defaultCaps() map[int]bool {
	return map[int]bool{
		unix.CAP_CHOWN: true, unix.CAP_DAC_OVERRIDE: true, unix.CAP_FSETID: true,
		unix.CAP_FOWNER: true, unix.CAP_MKNOD: true, unix.CAP_NET_RAW: true,
		unix.CAP_SETGID: true, unix.CAP_SETUID: true, unix.CAP_SETFCAP: true,
		unix.CAP_SETPCAP: true, unix.CAP_NET_BIND_SERVICE: true, unix.CAP_SYS_CHROOT: true,
		unix.CAP_KILL: true, unix.CAP_AUDIT_WRITE: true,
	}
}

// dropBoundingCaps removes every capability but Docker's defaults from the
// calling thread's bounding set; a root command gets exactly those at exec.
// procDir is where the step's /proc is mounted.
func dropBoundingCaps(procDir string) error {
	data, err := os.ReadFile(filepath.Join(procDir, "sys/kernel/cap_last_cap"))
	if err != nil {
		return fmt.Errorf("read cap_last_cap: %w", err)
	}
	last, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return fmt.Errorf("read cap_last_cap: %w", err)
	}
	keep := defaultCaps()
	for c := 0; c <= last; c++ {
		if keep[c] {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0); err != nil {
			return fmt.Errorf("drop capability %d: %w", c, err)
		}
	}
	return nil
}

// maskProc hides the /proc entries Docker masks (bind /dev/null over files,
// an empty read-only tmpfs over directories) and makes the usual ones
// read-only. proc is the host path of the step's /proc.
func maskProc(proc string) error {
	for _, name := range []string{"acpi", "asound", "interrupts", "kcore", "keys",
		"latency_stats", "timer_list", "timer_stats", "sched_debug", "scsi"} {
		if err := maskPath(filepath.Join(proc, name)); err != nil {
			return err
		}
	}
	for _, name := range []string{"bus", "fs", "irq", "sys", "sysrq-trigger"} {
		p := filepath.Join(proc, name)
		if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return fmt.Errorf("make /proc/%s read-only: %w", name, err)
		}
		flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
		if err := unix.Mount("", p, "", flags, ""); err != nil {
			return fmt.Errorf("make /proc/%s read-only: %w", name, err)
		}
	}
	return nil
}

// maskPath hides p; a missing p is fine.
func maskPath(p string) error {
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	if fi.IsDir() {
		err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "size=0")
	} else {
		err = unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
	}
	if err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	return nil
}
