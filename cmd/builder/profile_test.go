package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDebugProfile: --debug-profile FILE writes a CPU profile (gzipped
// protobuf, what `go tool pprof` reads) of the command; a file that cannot
// be created is a usage error naming the flag.
func TestDebugProfile(t *testing.T) {
	prof := filepath.Join(t.TempDir(), "cpu.prof")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"--root", t.TempDir(), "--debug-profile", prof, "images"}, nil, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	data, err := os.ReadFile(prof)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
		t.Fatalf("profile is not gzipped pprof data: %d bytes", len(data))
	}
	errb.Reset()
	bad := filepath.Join(t.TempDir(), "missing", "cpu.prof")
	if code := run(context.Background(), []string{"--root", t.TempDir(), "images", "--debug-profile", bad}, nil, &out, &errb); code != 2 ||
		!strings.Contains(errb.String(), "--debug-profile") {
		t.Fatalf("unwritable profile: exit %d, stderr %q; want 2 naming --debug-profile", code, errb.String())
	}
}

// TestDebugProfileTrace: a --debug-profile file named *.trace gets a Go
// execution trace instead of a CPU profile.
func TestDebugProfileTrace(t *testing.T) {
	file := filepath.Join(t.TempDir(), "images.trace")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--root", t.TempDir(), "--debug-profile", file, "images"}, nil, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	data, err := os.ReadFile(file)
	if err != nil || !bytes.HasPrefix(data, []byte("go 1.")) {
		t.Fatalf("not a Go execution trace: %.20q, %v", data, err)
	}
}
