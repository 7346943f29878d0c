package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// leakTB is a test whose cleanups and errors LeakCheck's caller runs and
// reads.
type leakTB struct {
	testing.TB
	name     string
	dir      string
	cleanups []func()
	errs     []string
}

func (f *leakTB) Name() string              { return f.name }
func (f *leakTB) Helper()                   {}
func (f *leakTB) Cleanup(fn func())         { f.cleanups = append(f.cleanups, fn) }
func (f *leakTB) Errorf(s string, a ...any) { f.errs = append(f.errs, fmt.Sprintf(s, a...)) }
func (f *leakTB) TempDir() string           { return f.dir }

func (f *leakTB) runCleanups() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	f.cleanups = nil
}

// sleepIn starts a sleep whose cwd is dir and stops it when t ends.
func sleepIn(t *testing.T, dir, secs string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", secs)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// mkTemp makes a temp dir named like testing's (pattern plus random digits)
// and removes it when t ends.
func mkTemp(t *testing.T, pattern string) string {
	t.Helper()
	d, err := os.MkdirTemp("", pattern)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// TestLeakCheckOwnProcessesOnly: LeakCheck reports a process left in the
// test's own temp dir and in a subtest's (made while the test ran), not one
// in the dir of another run of a test with the same name.
func TestLeakCheckOwnProcessesOnly(t *testing.T) {
	name := t.Name() + "Fake"
	pattern := tempPattern(name)
	other := mkTemp(t, pattern) // another run's, there before
	sleepIn(t, other, "60")

	own := mkTemp(t, pattern)
	f := &leakTB{TB: t, name: name, dir: filepath.Join(own, "001")}
	if err := os.Mkdir(f.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	LeakCheck(f)
	mine := sleepIn(t, f.dir, "61")
	sub := mkTemp(t, pattern+"sub") // a subtest's, made while the test runs
	subSleep := sleepIn(t, sub, "62")
	f.runCleanups()
	msg := strings.Join(f.errs, "\n")
	if !strings.Contains(msg, fmt.Sprintf("%d sleep 61", mine.Process.Pid)) || !strings.Contains(msg, fmt.Sprintf("%d sleep 62", subSleep.Process.Pid)) {
		t.Errorf("LeakCheck did not report the test's own sleeps:\n%s", msg)
	}
	if strings.Contains(msg, "sleep 60") {
		t.Errorf("LeakCheck reported another run's sleep:\n%s", msg)
	}

	// With only the other run's process left, it passes.
	f2 := &leakTB{TB: t, name: name, dir: f.dir}
	mine.Process.Kill()
	mine.Wait()
	subSleep.Process.Kill()
	subSleep.Wait()
	LeakCheck(f2)
	f2.runCleanups()
	if len(f2.errs) > 0 {
		t.Errorf("LeakCheck with only another run's process: %v", f2.errs)
	}
}
