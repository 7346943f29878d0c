package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Extraction directories in the layers directory are named
// ".tmp-<pid>-<starttime>-<diffID prefix>-<random>", starttime being the
// process start time from /proc/<pid>/stat (the naming store uses for its
// tmp/ entries), so that leftovers of a crashed process can be told from
// extractions still running, even once the pid is reused.
const tmpPrefix = ".tmp-"

// procStartTime returns the start time (clock ticks since boot) of pid.
func procStartTime(pid int) (uint64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// Field 2, the command name, is in parentheses and may hold anything.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 { // f[0] is field 3; starttime is field 22
		return 0, false
	}
	v, err := strconv.ParseUint(f[19], 10, 64)
	return v, err == nil
}

// tmpOwnerTag returns "<pid>-<starttime>-" for the running process.
func tmpOwnerTag() string {
	pid := os.Getpid()
	st, _ := procStartTime(pid)
	return strconv.Itoa(pid) + "-" + strconv.FormatUint(st, 10) + "-"
}

// tmpOwner parses the owner out of an extraction directory name.
func tmpOwner(name string) (pid int, start uint64, ok bool) {
	rest, ok := strings.CutPrefix(name, tmpPrefix)
	if !ok {
		return 0, 0, false
	}
	parts := strings.SplitN(rest, "-", 3)
	if len(parts) < 3 {
		return 0, 0, false
	}
	p, err := strconv.Atoi(parts[0])
	if err != nil || p <= 0 {
		return 0, 0, false
	}
	st, err := strconv.ParseUint(parts[1], 10, 64)
	if err != nil {
		return 0, 0, false
	}
	return p, st, true
}

// ownerAlive reports whether the process pid started at start still runs.
// A start of 0 (unknown when the name was made) matches any process.
func ownerAlive(pid int, start uint64) bool {
	if st, ok := procStartTime(pid); ok {
		return start == 0 || st == start
	}
	if _, err := os.Stat("/proc/self/stat"); err == nil {
		return false // /proc works and pid is gone
	}
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// cleanTmp removes the extraction directories in dir whose process is dead.
// Names it did not make are left alone.
func cleanTmp(dir string) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("clean layers dir: %w", err)
	}
	for _, e := range ents {
		pid, start, ok := tmpOwner(e.Name())
		if !ok || ownerAlive(pid, start) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
			return fmt.Errorf("remove stale extraction %s: %w", e.Name(), err)
		}
	}
	return nil
}
