package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/builderdev/builder/solver"
)

func TestParseOutputs(t *testing.T) {
	tests := []struct {
		in      string
		typ     string
		dest    string
		wantErr string
	}{
		{in: "type=oci,dest=out.tar", typ: "oci", dest: "out.tar"},
		{in: "type=docker,dest=-", typ: "docker", dest: "-"},
		{in: "type=local,dest=dir", typ: "local", dest: "dir"},
		{in: "out", typ: "local", dest: "out"},
		{in: "-", typ: "tar", dest: "-"},
		{in: "type=oci,dest=x,compression=zstd,compression-level=3", typ: "oci", dest: "x"},
		{in: "type=oci", wantErr: "dest is required"},
		{in: "type=nope,dest=x", wantErr: "unknown type"},
		{in: "dest=x", wantErr: "type is required"},
		{in: "type=local,dest=-", wantErr: "needs a directory"},
		{in: "type=oci,dest=x,compression=lz4", wantErr: "invalid compression"},
		{in: "type=oci,dest=x,force-compression=maybe", wantErr: "invalid force-compression"},
		{in: "type=oci,dest", wantErr: "not KEY=VALUE"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			outs, err := parseOutputs([]string{tt.in})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if outs[0].typ != tt.typ || outs[0].dest != tt.dest {
				t.Errorf("got %+v", outs[0])
			}
		})
	}
	outs, _ := parseOutputs([]string{"type=oci,dest=x,rewrite-timestamp=true"})
	if !rewriteTimestamp(outs) {
		t.Errorf("rewrite-timestamp=true not seen")
	}
}

func TestParseSecret(t *testing.T) {
	t.Setenv("MY_TOKEN", "x")
	tests := []struct {
		in       string
		id       string
		src, env string
		err      bool
	}{
		{in: "id=a,src=/f", id: "a", src: "/f"},
		{in: "id=a,source=/f", id: "a", src: "/f"},
		{in: "id=a,env=V", id: "a", env: "V"},
		{in: "id=MY_TOKEN", id: "MY_TOKEN", env: "MY_TOKEN"},
		{in: "id=notset", id: "notset", src: "notset"},
		{in: "src=/f", err: true},
		{in: "id=a,bogus=1", err: true},
	}
	for _, tt := range tests {
		id, sec, err := parseSecret(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("parseSecret(%q) err = %v", tt.in, err)
			continue
		}
		if !tt.err && (id != tt.id || sec.Src != tt.src || sec.Env != tt.env) {
			t.Errorf("parseSecret(%q) = %q %+v", tt.in, id, sec)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"512m": 512 << 20, "1g": 1 << 30, "64MB": 64 << 20, "1048576": 1 << 20, "1.5k": 1536} {
		got, err := parseBytes(in)
		if err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "abc", "-1m"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q) accepted", in)
		}
	}
}

func TestPlainProgress(t *testing.T) {
	var buf bytes.Buffer
	rep, done := newRenderer("plain", false, &buf)
	t0 := time.Now()
	rep.Report(solver.Event{Time: t0, Status: solver.StatusInfo, Data: "isolation: namespace"})
	rep.Report(solver.Event{Time: t0, Vertex: 3, Name: "[build 2/4] RUN make", Status: solver.StatusStarted})
	rep.Report(solver.Event{Time: t0.Add(500 * time.Millisecond), Vertex: 3, Status: solver.StatusLog, Data: "compiling\nlinking\n"})
	rep.Report(solver.Event{Time: t0, Vertex: 3, Status: solver.StatusDone, Duration: 1200 * time.Millisecond})
	rep.Report(solver.Event{Time: t0, Vertex: 4, Name: "[build 3/4] COPY a b", Status: solver.StatusCached})
	done()
	want := "#0 isolation: namespace\n#3 [build 2/4] RUN make\n#3 0.500 compiling\n#3 0.500 linking\n#3 DONE 1.2s\n#4 [build 3/4] COPY a b\n#4 CACHED\n"
	if buf.String() != want {
		t.Errorf("plain progress:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestJSONProgress(t *testing.T) {
	var buf bytes.Buffer
	rep, done := newRenderer("json", false, &buf)
	rep.Report(solver.Event{Vertex: 1, Name: "[a 1/1] RUN x", Status: solver.StatusDone, Duration: time.Second})
	done()
	var e solver.Event
	if err := json.Unmarshal(buf.Bytes(), &e); err != nil || e.Vertex != 1 || e.Status != solver.StatusDone {
		t.Errorf("json progress %q: %+v, %v", buf.String(), e, err)
	}
}

func TestTTYProgressFinishes(t *testing.T) {
	var buf bytes.Buffer
	rep, done := newRenderer("tty", false, &buf)
	rep.Report(solver.Event{Time: time.Now(), Vertex: 1, Name: "[a 1/2] RUN x", Status: solver.StatusStarted})
	rep.Report(solver.Event{Time: time.Now(), Vertex: 1, Status: solver.StatusDone})
	rep.Report(solver.Event{Time: time.Now(), Vertex: 2, Name: "[a 2/2] COPY y z", Status: solver.StatusCached})
	done()
	done() // safe twice
	out := buf.String()
	if !strings.Contains(out, "FINISHED") || !strings.Contains(out, "CACHED [a 2/2] COPY y z") || !strings.Contains(out, "[a 1/2] RUN x") {
		t.Errorf("tty progress:\n%q", out)
	}
}

func TestUsageErrors(t *testing.T) {
	var out, errw bytes.Buffer
	if code := run(context.Background(), []string{"nope"}, strings.NewReader(""), &out, &errw); code != 2 {
		t.Errorf("unknown command: exit %d", code)
	}
	if code := run(context.Background(), []string{"build"}, strings.NewReader(""), &out, &errw); code != 2 {
		t.Errorf("build without context: exit %d", code)
	}
	if code := run(context.Background(), []string{"build", "--bogus", "."}, strings.NewReader(""), &out, &errw); code != 2 {
		t.Errorf("unknown flag: exit %d", code)
	}
	out.Reset()
	if code := run(context.Background(), []string{"help"}, strings.NewReader(""), &out, &errw); code != 0 || !strings.Contains(out.String(), "build") {
		t.Errorf("help: exit %d, %q", code, out.String())
	}
}

// TestContextDirErrors: a missing context says so, naming the path; a file
// given as the context says it is not a directory.
func TestContextDirErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ ctx, want string }{
		{filepath.Join(dir, "missing"), filepath.Join(dir, "missing") + ": no such directory"},
		{filepath.Join(file, "sub"), filepath.Join(file, "sub") + ": no such directory"},
		{file, file + ": not a directory"},
	} {
		var out, errw bytes.Buffer
		code := run(context.Background(), []string{"--root", t.TempDir(), "build", tt.ctx}, strings.NewReader(""), &out, &errw)
		if code != 1 || !strings.Contains(errw.String(), tt.want) {
			t.Errorf("build %s: exit %d, stderr %q; want %q", tt.ctx, code, errw.String(), tt.want)
		}
	}
}
