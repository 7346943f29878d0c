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
// (by cwd, root or command line) of this test remains: one under this
// test's own temp dir (t.TempDir()), or under a temp dir of its subtests
// (named after it; those made while it ran). Another test's or another
// run's dirs with a like name, there before this test began, are not
// looked at, so concurrent runs on one machine do not fail each other.
// Call it first in a test.
func LeakCheck(t testing.TB) {
	t.Helper()
	own := filepath.Dir(t.TempDir()) // unique: the test's name plus random digits
	prefix := filepath.Join(os.TempDir(), tempPattern(t.Name()))
	ours := leakOwner(own, prefix, tempDirsWith(prefix))
	t.Cleanup(func() {
		var mounts, procs []string
		// Killed processes and lazy unmounts take a moment to disappear.
		for i := 0; i < 40; i++ {
			mounts, procs = mountsWhere(prefix, ours), processesWhere(prefix, ours)
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

// tempDirsWith lists the entries of the temp dir whose path starts with
// prefix.
func tempDirsWith(prefix string) map[string]bool {
	out := map[string]bool{}
	ents, _ := os.ReadDir(filepath.Dir(prefix))
	for _, e := range ents {
		if p := filepath.Join(filepath.Dir(prefix), e.Name()); strings.HasPrefix(p, prefix) {
			out[p] = true
		}
	}
	return out
}

// leakOwner returns whether a path starting with prefix is the test's: it
// is under own, or its entry of the temp dir was not in before.
func leakOwner(own, prefix string, before map[string]bool) func(path string) bool {
	tmp := filepath.Dir(prefix)
	return func(path string) bool {
		path = strings.TrimSuffix(path, " (deleted)")
		if path == own || strings.HasPrefix(path, own+"/") {
			return true
		}
		top, _, _ := strings.Cut(strings.TrimPrefix(path, tmp+"/"), "/")
		return !before[filepath.Join(tmp, top)]
	}
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
	return mountsWhere(prefix, func(string) bool { return true })
}

// mountsWhere lists mount points whose path starts with prefix and that
// ours accepts.
func mountsWhere(prefix string, ours func(path string) bool) []string {
	// The prefix is a partial file name (t.TempDir adds a suffix), so
	// mountinfo.PrefixFilter, which matches whole elements, does not fit.
	infos, err := mountinfo.GetMounts(func(m *mountinfo.Info) (skip, stop bool) {
		return !strings.HasPrefix(m.Mountpoint, prefix) || !ours(m.Mountpoint), false
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
	return processesWhere(prefix, func(string) bool { return true })
}

// processesWhere is ProcessesUnder for the paths that ours accepts.
func processesWhere(prefix string, ours func(path string) bool) []string {
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
		cwd, _ := os.Readlink(filepath.Join(base, "cwd"))
		root, _ := os.Readlink(filepath.Join(base, "root"))
		paths := []string{cwd, root}
		for _, arg := range strings.Split(string(raw), "\x00") {
			// An argument may carry a path after a flag or key: --root=P, dest=P.
			for i := strings.Index(arg, prefix); i >= 0; i = strings.Index(arg, prefix) {
				paths = append(paths, arg[i:])
				arg = arg[i+len(prefix):]
			}
		}
		for _, p := range paths {
			if strings.HasPrefix(p, prefix) && ours(p) {
				cmdline := strings.TrimSpace(strings.ReplaceAll(string(raw), "\x00", " "))
				out = append(out, fmt.Sprintf("%d %s", pid, cmdline))
				break
			}
		}
	}
	return out
}

func isZombie(stat []byte) bool {
	s := string(stat)
	i := strings.LastIndex(s, ")")
	return i >= 0 && len(s) > i+2 && s[i+2] == 'Z'
}
