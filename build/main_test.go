package build_test

import (
	"os"
	"testing"

	"github.com/builderdev/builder/executor"
)

// TestMain lets the executor re-execute this test binary as the init of
// RUN steps, as cmd/builder's main does.
func TestMain(m *testing.M) {
	if executor.Reexec() {
		return
	}
	os.Exit(m.Run())
}
