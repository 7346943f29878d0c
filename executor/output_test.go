package executor_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/builderdev/builder/executor"
)

// TestOutputOrder checks that Spec.Output gets stdout and stderr through
// one pipe, in the order the step wrote them, at both isolation levels;
// 20 runs, since two pipes read by two goroutines get it right by chance.
func TestOutputOrder(t *testing.T) {
	levels := []struct {
		name string
		exec func(*testing.T) executor.Executor
	}{{"namespace", newExec}, {"chroot", newChrootExec}}
	for _, l := range levels {
		t.Run(l.name, func(t *testing.T) {
			e := l.exec(t)
			root := busyboxRoot(t)
			const want = "out1\nerr1\nout2\nerr2\n"
			for i := range 20 {
				var out bytes.Buffer
				err := e.Run(context.Background(), executor.Spec{
					RootMounts: bindRoot(root),
					Args:       sh("echo out1; echo err1 >&2; echo out2; echo err2 >&2; exit 3"),
					Env:        []string{testPath},
					Output:     &out,
				})
				var ee *executor.ExitError
				if !errors.As(err, &ee) || ee.Code != 3 {
					t.Fatalf("run %d: err %v, want exit code 3", i, err)
				}
				if out.String() != want {
					t.Fatalf("run %d: output %q, want %q", i, out.String(), want)
				}
			}
		})
	}
}
