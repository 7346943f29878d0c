package procowner

import (
	"bytes"
	"errors"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Tag returns "<pid>-<starttime>-" for the running process.
func Tag() string {
	pid := os.Getpid()
	st, _ := startTime(pid)
	return strconv.Itoa(pid) + "-" + strconv.FormatUint(st, 10) + "-"
}

// Parse reads the owner from a name that starts with a Tag.
func Parse(name string) (pid int, start uint64, ok bool) {
	parts := strings.SplitN(name, "-", 3)
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

// Gone reports whether name starts with the Tag of a process that no longer
// runs. Names without a tag are never gone: they are not ours.
func Gone(name string) bool {
	pid, start, ok := Parse(name)
	return ok && !Alive(pid, start)
}

// Alive reports whether the process pid that started at start still runs.
// A start of 0 (unknown when the tag was made) matches any process.
func Alive(pid int, start uint64) bool {
	if st, ok := startTime(pid); ok {
		return start == 0 || st == start
	}
	if _, err := os.Stat("/proc/self/stat"); err == nil {
		return false // /proc works and pid is gone
	}
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// startTime returns the start time (clock ticks since boot) of pid.
func startTime(pid int) (uint64, bool) {
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

// Started converts a start time in clock ticks since boot (as in a Tag)
// into wall time. Linux reports start times in USER_HZ, 100 everywhere.
func Started(ticks uint64) (time.Time, bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, false
			}
			return time.Unix(n, 0).Add(time.Duration(ticks) * 10 * time.Millisecond), true
		}
	}
	return time.Time{}, false
}
