package executor_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/builderdev/builder/executor"
)

func TestMain(m *testing.M) {
	if executor.Reexec() {
		return
	}
	code := m.Run()
	if code == 0 {
		if err := checkNoChildren(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// checkNoChildren fails if any process still has this one as its parent.
func checkNoChildren() error {
	me := strconv.Itoa(os.Getpid())
	dirs, _ := filepath.Glob("/proc/[0-9]*/status")
	for _, st := range dirs {
		data, err := os.ReadFile(st)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(line, "PPid:"); ok && strings.TrimSpace(v) == me {
				return fmt.Errorf("child process left behind: %s", st)
			}
		}
	}
	return nil
}
