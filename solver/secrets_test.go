package solver

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/builderdev/builder/parser"
)

func TestSecretsUsedInArgOrEnv(t *testing.T) {
	df, err := parser.Parse(strings.NewReader("ARG PASSWORD\nFROM x\nARG GITHUB_TOKEN=1 NAME\nENV PUBLIC_KEY=1 AWS_SECRET_ACCESS_KEY=2 KEYBOARD=3 db_passwd=4\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ARG "PASSWORD") (Dockerfile:1)`,
		`SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ARG "GITHUB_TOKEN") (Dockerfile:3)`,
		`SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ENV "AWS_SECRET_ACCESS_KEY") (Dockerfile:4)`,
		`SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ENV "db_passwd") (Dockerfile:4)`,
	}
	if diff := cmp.Diff(want, secretsUsedInArgOrEnv(df)); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) Report(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) all() string {
	var b strings.Builder
	for _, e := range r.events {
		b.WriteString(e.Data)
	}
	return b.String()
}

func TestScrubSecrets(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pem"), []byte("-----BEGIN-----\nMIIBline2secret\n-----END-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SCRUB_TEST_SECRET", "s3cr3t-value")
	s := newScrubber(map[string]Secret{"a": {Env: "SCRUB_TEST_SECRET"}, "b": {Src: filepath.Join(dir, "pem")}, "missing": {Src: filepath.Join(dir, "nope")}})

	rec := &recorder{}
	rep := newScrubReporter(rec, s)
	// a secret written in pieces, then on a line longer than longLine, then
	// a line of the multi-line one
	long := strings.Repeat("x", longLine-5)
	for _, piece := range []string{"one s3cr", "3t-val", "ue two\n", long, "s3cr3t-", "value tail", "\n", "key MIIBline2secret\n", "unended s3c"} {
		rep.Report(Event{Vertex: 2, Status: StatusLog, Data: piece})
	}
	rep.Report(Event{Vertex: 2, Status: StatusError, Data: "exit 1: s3cr3t-value"})
	got := rec.all()
	want := "one **** two\n" + long + "**** tail\nkey ****\nunended s3cexit 1: ****"
	if got != want {
		t.Errorf("events\n%q\nwant\n%q", got, want)
	}
	for _, e := range rec.events {
		if strings.Contains(e.Data, "s3cr3t") || strings.Contains(e.Data, "MIIB") {
			t.Errorf("event leaks a secret: %q", e.Data)
		}
	}

	err := s.scrubError(&fs.PathError{Op: "open", Path: "/run/s3cr3t-value", Err: fs.ErrNotExist})
	if err.Error() != "open /run/****: file does not exist" || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("scrubbed error %q (is ErrNotExist: %v)", err, errors.Is(err, fs.ErrNotExist))
	}
	// no secrets: nothing changes, no wrapping
	if r := newScrubReporter(rec, newScrubber(nil)); r != Reporter(rec) {
		t.Errorf("a build without secrets wraps its reporter")
	}
}
