package solver

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/parser"
)

type mapVars map[string]string

func (m mapVars) Get(k string) (string, bool) { v, ok := m[k]; return v, ok }

func strp(s string) *string { return &s }

func TestRunCommandString(t *testing.T) {
	sh := []string{"/bin/sh", "-c", "echo $FOO"}
	tests := []struct {
		name string
		args []parserArg
		vars mapVars
		want string
	}{
		{"no args", nil, nil, "/bin/sh -c echo $FOO"},
		{"one arg", []parserArg{{"FOO", strp("bar")}}, mapVars{"FOO": "bar"}, "|1 FOO=bar /bin/sh -c echo $FOO"},
		// Declaration order, not sorted.
		{"order kept", []parserArg{{"Z", strp("1")}, {"A", strp("2")}}, mapVars{"Z": "1", "A": "2"}, "|2 Z=1 A=2 /bin/sh -c echo $FOO"},
		// A value from --build-arg is what the scope holds.
		{"build-arg value", []parserArg{{"FOO", strp("cli")}}, mapVars{"FOO": "cli"}, "|1 FOO=cli /bin/sh -c echo $FOO"},
		// Declared without a value: listed empty.
		{"no value", []parserArg{{"FOO", nil}}, nil, "|1 FOO= /bin/sh -c echo $FOO"},
		// An ENV of the same name later wins: the scope's value is used.
		{"env wins", []parserArg{{"FOO", strp("arg")}}, mapVars{"FOO": "env"}, "|1 FOO=env /bin/sh -c echo $FOO"},
		// Redeclared: one entry, in the first position, last value.
		{"redeclared", []parserArg{{"A", strp("1")}, {"B", strp("2")}, {"A", strp("3")}}, mapVars{"A": "3", "B": "2"}, "|2 A=3 B=2 /bin/sh -c echo $FOO"},
	}
	for _, tt := range tests {
		got := runCommandString(sh, toArgDefs(tt.args), tt.vars)
		if got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
}

type parserArg struct {
	k string
	v *string
}

func toArgDefs(in []parserArg) []parser.ArgDef {
	out := make([]parser.ArgDef, len(in))
	for i, a := range in {
		out[i] = parser.ArgDef{Key: a.k, Value: a.v}
	}
	return out
}

func TestCopyHistory(t *testing.T) {
	tests := []struct {
		c    parser.Copy
		want string
	}{
		{parser.Copy{Sources: []string{"x"}, Dest: "/app/y", Chmod: "755"}, "COPY --chmod=755 x /app/y"},
		{parser.Copy{Sources: []string{"a", "b"}, Dest: "/d/", Chown: "1:2", Chmod: "644", Parents: true}, "COPY --parents --chown=1:2 --chmod=644 a b /d/"},
		// --link, --from, --exclude are not recorded.
		{parser.Copy{Sources: []string{"a"}, Dest: "/d", Link: true, From: "build", Excludes: []string{"*.o"}}, "COPY a /d"},
		{parser.Copy{Add: true, Sources: []string{"https://x/y.tgz"}, Dest: "/d", Checksum: "sha256:00", Chown: "u"}, "ADD --chown=u https://x/y.tgz /d"},
		// Heredoc sources come after the paths.
		{parser.Copy{Sources: []string{"a"}, Heredocs: []parser.Heredoc{{Name: "EOF"}}, Dest: "/d"}, "COPY a <<EOF /d"},
	}
	for _, tt := range tests {
		if got := copyHistory(&tt.c); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
}

// metaHistory applies insts to an empty config and returns the history
// texts and the final config.
func metaHistory(t *testing.T, insts ...parser.Instruction) ([]string, *v1.Config) {
	t.Helper()
	b := &build{req: &Request{}}
	st := &state{cfg: &v1.ConfigFile{}}
	for _, in := range insts {
		var err error
		if st, err = b.meta(st, in); err != nil {
			t.Fatalf("%T: %v", in, err)
		}
	}
	var out []string
	for _, h := range st.cfg.History {
		out = append(out, h.CreatedBy)
	}
	return out, &st.cfg.Config
}

func TestExposeHistory(t *testing.T) {
	got, cfg := metaHistory(t, &parser.Expose{Ports: []string{"80", "53/udp"}}, &parser.Expose{Ports: []string{"443"}})
	want := []string{"EXPOSE [80/tcp 53/udp]", "EXPOSE [443/tcp]"}
	if !cmp.Equal(got, want) {
		t.Errorf("history %q, want %q", got, want)
	}
	if len(cfg.ExposedPorts) != 3 {
		t.Errorf("ExposedPorts = %v, want all three", cfg.ExposedPorts)
	}
}

func TestMetaHistory(t *testing.T) {
	got, cfg := metaHistory(t,
		&parser.Shell{Shell: []string{"/bin/sh", "-ec"}},
		&parser.Onbuild{Expression: "RUN echo hi"},
		&parser.Healthcheck{Test: []string{"CMD-SHELL", "curl -f http://localhost/"}, Interval: 30 * time.Second, Retries: 3},
		&parser.Cmd{Cmd: []string{"echo", "hi"}},
	)
	want := []string{
		"SHELL [/bin/sh -ec]",
		"HEALTHCHECK {Test:[CMD-SHELL curl -f http://localhost/] Interval:30s Timeout:0s StartPeriod:0s StartInterval:0s Retries:3}",
		`CMD ["echo" "hi"]`,
	}
	if !cmp.Equal(got, want) {
		t.Errorf("history:\n%q\nwant\n%q", got, want)
	}
	if !cmp.Equal(cfg.OnBuild, []string{"RUN echo hi"}) {
		t.Errorf("OnBuild = %q", cfg.OnBuild)
	}
	if !cfg.ArgsEscaped {
		t.Error("CMD did not set ArgsEscaped")
	}
	_, cfg = metaHistory(t, &parser.Cmd{Shell: true, Cmd: []string{"echo hi"}})
	if !cfg.ArgsEscaped {
		t.Error("shell-form CMD did not set ArgsEscaped")
	}
	_, cfg = metaHistory(t, &parser.Entrypoint{Cmd: []string{"a"}})
	if cfg.ArgsEscaped {
		t.Error("ENTRYPOINT set ArgsEscaped")
	}
}
