package solver

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/builderdev/builder/parser"
)

func TestExposedPorts(t *testing.T) {
	tests := []struct {
		in   []string
		want []string
		err  bool
	}{
		{in: []string{"80"}, want: []string{"80/tcp"}},
		{in: []string{"53/udp", "8080/TCP"}, want: []string{"53/udp", "8080/tcp"}},
		{in: []string{"8000-8002"}, want: []string{"8000/tcp", "8001/tcp", "8002/tcp"}},
		{in: []string{"80/xyz"}, err: true},
		{in: []string{"abc"}, err: true},
		{in: []string{"9-1"}, err: true},
	}
	for _, tt := range tests {
		got, err := exposedPorts(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("exposedPorts(%q) error = %v, want error %t", tt.in, err, tt.err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); !tt.err && diff != "" {
			t.Errorf("exposedPorts(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestCommandLine(t *testing.T) {
	if got := commandLine(true, []string{"echo hi"}, nil); !cmp.Equal(got, []string{"/bin/sh", "-c", "echo hi"}) {
		t.Errorf("shell form = %q", got)
	}
	if got := commandLine(true, []string{"echo hi"}, []string{"/bin/bash", "-ec"}); !cmp.Equal(got, []string{"/bin/bash", "-ec", "echo hi"}) {
		t.Errorf("shell form with SHELL = %q", got)
	}
	if got := commandLine(false, []string{"a", "b"}, []string{"/bin/bash"}); !cmp.Equal(got, []string{"a", "b"}) {
		t.Errorf("exec form = %q", got)
	}
}

func TestValidSignal(t *testing.T) {
	for _, s := range []string{"SIGTERM", "TERM", "sigkill", "9", "SIGRTMIN+3"} {
		if err := validSignal(s); err != nil {
			t.Errorf("validSignal(%q) = %v", s, err)
		}
	}
	for _, s := range []string{"SIGNOPE", "0", "65", ""} {
		if err := validSignal(s); err == nil {
			t.Errorf("validSignal(%q) accepted", s)
		}
	}
}

func TestRunArgs(t *testing.T) {
	tests := []struct {
		name   string
		run    *parser.Run
		shell  []string
		want   []string
		script bool
	}{
		{name: "shell form", run: &parser.Run{Shell: true, Cmd: []string{"make all"}}, want: []string{"/bin/sh", "-c", "make all"}},
		{name: "exec form", run: &parser.Run{Cmd: []string{"make", "all"}}, want: []string{"make", "all"}},
		{name: "SHELL", run: &parser.Run{Shell: true, Cmd: []string{"x"}}, shell: []string{"/bin/bash", "-c"}, want: []string{"/bin/bash", "-c", "x"}},
		{name: "heredoc only", run: &parser.Run{Shell: true, Cmd: []string{"<<EOF"}, Heredocs: []parser.Heredoc{{Name: "EOF", Content: "echo a\necho b\n"}}},
			want: []string{"/bin/sh", "-c", "echo a\necho b\n"}},
		{name: "heredoc script", run: &parser.Run{Shell: true, Cmd: []string{"<<EOF"}, Heredocs: []parser.Heredoc{{Name: "EOF", Content: "#!/bin/sh\necho a\n"}}},
			script: true},
		{name: "heredoc as input", run: &parser.Run{Shell: true, Cmd: []string{"cat <<EOF > /f"}, Heredocs: []parser.Heredoc{{Name: "EOF", Content: "x\n"}}},
			want: []string{"/bin/sh", "-c", "cat <<EOF > /f\nx\nEOF"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, script := runArgs(tt.run, tt.shell)
			if (script != nil) != tt.script {
				t.Fatalf("script = %v, want %t", script, tt.script)
			}
			if diff := cmp.Diff(tt.want, got); !tt.script && diff != "" {
				t.Errorf("args (-want +got):\n%s", diff)
			}
		})
	}
}

func TestKeyOfIsCanonical(t *testing.T) {
	a := keyOf(keyInput{Parent: "p", Kind: "run", Args: map[string]any{"b": 1, "a": 2}})
	b := keyOf(keyInput{Parent: "p", Kind: "run", Args: map[string]any{"a": 2, "b": 1}})
	if a != b {
		t.Errorf("map order changed the key")
	}
	// Joined strings would collide here; the encoding must not.
	c := keyOf(keyInput{Kind: "run", Env: []string{"A=1 B=2"}})
	d := keyOf(keyInput{Kind: "run", Env: []string{"A=1", "B=2"}})
	if c == d {
		t.Errorf("different env lists gave the same key")
	}
}
