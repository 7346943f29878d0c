package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/builderdev/builder/solver"
)

// TestBadFlagValues checks that a bad flag value is bad usage (exit 2),
// found before anything is built, with the flag named.
func TestBadFlagValues(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "root")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--progress", "fancy"}, "--progress"},
		{[]string{"--isolation", "vm"}, "--isolation"},
		{[]string{"--jobs", "-1"}, "--jobs"},
		{[]string{"-o", "type=nope,dest=x"}, "unknown type"},
		{[]string{"--memory", "lots"}, "--memory"},
		{[]string{"--platform", "linux/arm64/v8/x/y"}, "--platform"},
		{[]string{"--build-context", "novalue"}, "--build-context"},
		{[]string{"--secret", "src=/f"}, "--secret"},
		{[]string{"-t", "a b"}, "invalid tag"},
		{[]string{"--jobs", "many"}, "--jobs"}, // pflag's own parse error
		{[]string{dir}, "exactly 1 argument"},  // two contexts
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errw bytes.Buffer
			args := append(append([]string{"--root", root, "build"}, tt.args...), dir)
			code := run(context.Background(), args, strings.NewReader(""), &out, &errw)
			if code != 2 || !strings.Contains(errw.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, errw.String(), tt.want)
			}
		})
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("bad usage opened the store: %v", err)
	}
}

// TestCanceledSteps checks that a step stopped because of another one is
// CANCELED, not ERROR, in plain and tty progress.
func TestCanceledSteps(t *testing.T) {
	t0 := time.Now()
	events := []solver.Event{
		{Time: t0, Vertex: 1, Name: "[a 1/1] RUN sleep 9", Status: solver.StatusStarted},
		{Time: t0, Vertex: 2, Name: "[b 1/1] RUN exit 3", Status: solver.StatusStarted},
		{Time: t0, Vertex: 2, Status: solver.StatusError, Data: "process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3\n  last output:"},
		{Time: t0, Vertex: 1, Status: solver.StatusCanceled, Data: "context canceled"},
	}
	var plain bytes.Buffer
	rep, done := newRenderer("plain", false, &plain)
	for _, e := range events {
		rep.Report(e)
	}
	done()
	want := "#1 [a 1/1] RUN sleep 9\n#2 [b 1/1] RUN exit 3\n" +
		"#2 ERROR: process \"/bin/sh -c exit 3\" did not complete successfully: exit code: 3\n#1 CANCELED\n"
	if plain.String() != want {
		t.Errorf("plain progress:\n%s\nwant:\n%s", plain.String(), want)
	}

	var tty bytes.Buffer
	rep, done = newRenderer("tty", false, &tty)
	for _, e := range events {
		rep.Report(e)
	}
	done()
	out := tty.String()
	if !strings.Contains(out, "=> CANCELED [a 1/1] RUN sleep 9") || !strings.Contains(out, "=> ERROR [b 1/1] RUN exit 3") ||
		strings.Contains(out, "ERROR [a 1/1]") {
		t.Errorf("tty progress:\n%q", out)
	}
}

// TestInterruptedNamesSteps checks the error of an interrupted build: exit
// 130, naming the steps that were running (cancelled ones included).
func TestInterruptedNamesSteps(t *testing.T) {
	r := newRunningSteps(solver.ReporterFunc(func(solver.Event) {}))
	r.Report(solver.Event{Vertex: 1, Name: "[1/3] COPY a /", Status: solver.StatusStarted})
	r.Report(solver.Event{Vertex: 1, Status: solver.StatusDone})
	r.Report(solver.Event{Vertex: 2, Name: "[2/3] RUN sleep 100", Status: solver.StatusStarted})
	r.Report(solver.Event{Vertex: 2, Status: solver.StatusCanceled})
	err := interrupted(r.names())
	if err.Error() != "interrupted while running #2 [2/3] RUN sleep 100" {
		t.Errorf("error %q", err)
	}
	var out, errw bytes.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// Any command stopped by a signal says "interrupted" and exits 130.
	code := run(ctx, []string{"--root", t.TempDir(), "push", "app:1", "127.0.0.1:1/app:1"}, strings.NewReader(""), &out, &errw)
	if code != exitInterrupted || errw.String() != "ERROR: interrupted\n" {
		t.Errorf("exit %d, stderr %q", code, errw.String())
	}
}
