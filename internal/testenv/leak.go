package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/moby/sys/mountinfo"
)

// LeakCheck registers a cleanup that fails the test if, once everything
// else registered later has been cleaned up, a mount point or a process
// (by cwd, root or command line) remains under this test's temp dirs
// (t.TempDir() of the test and its subtests). Call it first in a test.
func LeakCheck(t testing.TB) {
	t.Helper()
	prefix := filepath.Join(os.TempDir(), tempPattern(t.Name()))
	t.Cleanup(func() {
		var mounts, procs []string
		// Killed processes and lazy unmounts take a moment to disappear.
		for i := 0; i < 40; i++ {
			mounts, procs = MountsUnder(prefix), ProcessesUnder(prefix)
			if len(mounts) == 0 && len(procs) == 0 {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		if len(mounts) > 0 {
			t.Errorf("mounts left behind under %s*: %v", prefix, mounts)
		}
		if len(procs) > 0 {
			t.Errorf("processes left behind under %s*: %v", prefix, procs)
		}
	})
}

// tempPattern is the name prefix testing.T.TempDir uses for a test.
func tempPattern(name string) string {
	return strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf {
			if '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' ||
				strings.ContainsRune("!#$%&()+,-.=@^_{}~ ", r) {
				return r
			}
			return -1
		}
		if unicode.IsLetter(r) || unicode.IsNumber(r) {
			return r
		}
		return -1
	}, name)
}

// MountsUnder lists mount points in this process's mount namespace whose
// path starts with prefix.
func MountsUnder(prefix string) []string {
	// The prefix is a partial file name (t.TempDir adds a suffix), so
	// mountinfo.PrefixFilter, which matches whole elements, does not fit.
	infos, err := mountinfo.GetMounts(func(m *mountinfo.Info) (skip, stop bool) {
		return !strings.HasPrefix(m.Mountpoint, prefix), false
	})
	if err != nil {
		return []string{"cannot read mountinfo: " + err.Error()}
	}
	var out []string
	for _, m := range infos {
		out = append(out, m.Mountpoint)
	}
	return out
}

// ProcessesUnder lists live processes (not this one, not zombies) whose
// cwd, root or command line mentions a path starting with prefix, as
// "PID cmdline".
func ProcessesUnder(prefix string) []string {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return []string{"cannot read /proc: " + err.Error()}
	}
	self := os.Getpid()
	var out []string
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		base := filepath.Join("/proc", e.Name())
		if stat, err := os.ReadFile(filepath.Join(base, "stat")); err != nil || isZombie(stat) {
			continue
		}
		raw, _ := os.ReadFile(filepath.Join(base, "cmdline"))
		cmdline := strings.TrimSpace(strings.ReplaceAll(string(raw), "\x00", " "))
		cwd, _ := os.Readlink(filepath.Join(base, "cwd"))
		root, _ := os.Readlink(filepath.Join(base, "root"))
		if strings.HasPrefix(cwd, prefix) || strings.HasPrefix(root, prefix) || strings.Contains(cmdline, prefix) {
			out = append(out, fmt.Sprintf("%d %s", pid, cmdline))
		}
	}
	return out
}

func isZombie(stat []byte) bool {
	s := string(stat)
	i := strings.LastIndex(s, ")")
	return i >= 0 && len(s) > i+2 && s[i+2] == 'Z'
}
