package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"runtime/trace"
	"strings"
)

// startProfile starts --debug-profile: a Go CPU profile written to file,
// or, for a file named *.trace, a Go execution trace (where the wall time
// goes: blocking, syscalls, network waits; `go tool trace`).
func startProfile(file string) (stop func() error, err error) {
	if file == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, fmt.Errorf("create profile: %w", err)
	}
	start, end := pprof.StartCPUProfile, pprof.StopCPUProfile
	if strings.HasSuffix(file, ".trace") {
		start, end = trace.Start, trace.Stop
	}
	if err := start(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("start profile: %w", err)
	}
	return func() error {
		end()
		return f.Close()
	}, nil
}
