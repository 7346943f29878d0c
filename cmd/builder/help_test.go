package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestSubcommandHelp: every form of a subcommand's help goes to stdout
// with exit 0 (so it can be piped to less) and lists that command's flags
// and no other command's.
func TestSubcommandHelp(t *testing.T) {
	tests := []struct {
		cmd     string
		want    []string // flags it must list
		notWant []string // flags of other commands
	}{
		{cmd: "build", want: []string{"--tag", "--push", "--push-jobs", "--cache-to", "--report", "--root"}, notWant: []string{"--password-stdin", "--keep-storage"}},
		{cmd: "push", want: []string{"--digest-file", "--push-jobs", "--insecure-registry"}, notWant: []string{"--tag", "--build-arg", "--password-stdin"}},
		{cmd: "login", want: []string{"--username", "--password-stdin", "--insecure-registry"}, notWant: []string{"--push-jobs", "--digest-file", "--tag"}},
		{cmd: "images", want: []string{"--format", "--root"}, notWant: []string{"--tag", "--push-jobs", "--verbose"}},
		{cmd: "prune", want: []string{"--keep-storage", "--force"}, notWant: []string{"--verbose", "--tag"}},
		{cmd: "du", want: []string{"--verbose"}, notWant: []string{"--keep-storage", "--tag"}},
		{cmd: "history", want: []string{"--no-trunc", "--format", "--root"}, notWant: []string{"--size", "--tag"}},
		{cmd: "inspect", want: []string{"--size", "--format", "--root"}, notWant: []string{"--no-trunc", "--tag"}},
	}
	for _, tt := range tests {
		for _, args := range [][]string{{tt.cmd, "--help"}, {tt.cmd, "-h"}, {"help", tt.cmd}} {
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				var out, errw bytes.Buffer
				code := run(context.Background(), args, strings.NewReader(""), &out, &errw)
				if code != 0 {
					t.Errorf("exit %d, want 0", code)
				}
				if errw.Len() != 0 {
					t.Errorf("stderr: %q, want nothing", errw.String())
				}
				if !strings.HasPrefix(out.String(), "Usage: builder "+tt.cmd+" ") {
					t.Errorf("stdout does not start with the usage line:\n%s", out.String())
				}
				for _, f := range tt.want {
					if !strings.Contains(out.String(), f) {
						t.Errorf("help does not list %s:\n%s", f, out.String())
					}
				}
				for _, f := range tt.notWant {
					if strings.Contains(out.String(), f+" ") {
						t.Errorf("help lists %s, not a flag of %s:\n%s", f, tt.cmd, out.String())
					}
				}
			})
		}
	}
}

// TestBadFlagGoesToStderr: a usage error is not help: stderr, exit 2.
func TestBadFlagGoesToStderr(t *testing.T) {
	var out, errw bytes.Buffer
	if code := run(context.Background(), []string{"images", "--bogus"}, strings.NewReader(""), &out, &errw); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	if out.Len() != 0 || !strings.Contains(errw.String(), "--bogus") {
		t.Errorf("stdout %q, stderr %q", out.String(), errw.String())
	}
	errw.Reset()
	if code := run(context.Background(), []string{"help", "nope"}, strings.NewReader(""), &out, &errw); code != 2 || !strings.Contains(errw.String(), `"nope"`) {
		t.Errorf("help nope: exit %d, stderr %q", code, errw.String())
	}
}
