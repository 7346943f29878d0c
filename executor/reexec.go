package executor

import (
	"encoding/json"
	"fmt"
	"os"
)

// argv[0] values that mark our own re-executed init processes.
const (
	stage1Name = "builder-init"
	stage2Name = "builder-init2"
	probeName  = "builder-init-probe"
)

// File descriptors handed to the init stages (ExtraFiles).
const (
	specFD   = 3 // read: JSON spec
	reportFD = 4 // write: JSON report (stage 1) or setup error (stage 2)
)

// Reexec must be called first in main (and in TestMain). If this process
// was started as one of the executor's init stages it runs that stage and
// exits; otherwise it returns false.
func Reexec() bool {
	if len(os.Args) == 0 {
		return false
	}
	switch os.Args[0] {
	case stage1Name:
		os.Exit(stage1())
	case stage2Name:
		os.Exit(stage2())
	case probeName:
		os.Exit(0)
	case userNSName:
		os.Exit(userNSInit())
	case chrootInitName:
		os.Exit(chrootInit())
	case chrootStage2Name:
		os.Exit(chrootStage2())
	case chrootProbeName:
		os.Exit(chrootProbe())
	}
	return false
}

// readSpec decodes the JSON spec from the spec fd and closes it.
func readSpec(v any) error {
	f := os.NewFile(specFD, "spec")
	defer f.Close()
	if err := json.NewDecoder(f).Decode(v); err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	return nil
}
