package parser

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func strp(s string) *string { return &s }
func u32(v uint32) *uint32  { return &v }
func boolp(b bool) *bool    { return &b }

// parseOne parses "FROM scratch\n"+line and returns the stage's first instruction.
func parseOne(t *testing.T, line string) Instruction {
	t.Helper()
	df, err := Parse(strings.NewReader("FROM scratch\n" + line))
	if err != nil {
		t.Fatalf("parse %q: %v", line, err)
	}
	if len(df.Stages) != 1 || len(df.Stages[0].Instructions) == 0 {
		t.Fatalf("parse %q: want one stage with instructions, got %+v", line, df.Stages)
	}
	return df.Stages[0].Instructions[0]
}

func TestParseInstructions(t *testing.T) {
	b := func(orig string, start, end int) Base {
		return Base{Loc: Location{File: "Dockerfile", Start: start, End: end}, Orig: orig}
	}
	tests := []struct {
		name string
		in   string
		want Instruction
	}{
		{"run shell", "RUN echo  hi", &Run{Base: b("RUN echo  hi", 2, 2), Shell: true, Cmd: []string{"echo  hi"}, Network: "default", Security: "sandbox"}},
		{"run exec", `RUN ["echo", "hi"]`, &Run{Base: b(`RUN ["echo", "hi"]`, 2, 2), Cmd: []string{"echo", "hi"}, Network: "default", Security: "sandbox"}},
		{"run continuation", "RUN a \\\n  && b", &Run{Base: b("RUN a   && b", 2, 3), Shell: true, Cmd: []string{"a   && b"}, Network: "default", Security: "sandbox"}},
		{"run network security", "RUN --network=none --security=insecure true", &Run{Base: b("RUN --network=none --security=insecure true", 2, 2), Shell: true, Cmd: []string{"true"}, Network: "none", Security: "insecure"}},
		{"run network host", "RUN --network=host true", &Run{Base: b("RUN --network=host true", 2, 2), Shell: true, Cmd: []string{"true"}, Network: "host", Security: "sandbox"}},
		{"run heredoc", "RUN <<EOF\necho $HOME\nEOF", &Run{Base: b("RUN <<EOF", 2, 4), Shell: true, Cmd: []string{"<<EOF"}, Heredocs: []Heredoc{{Name: "EOF", Content: "echo $HOME\n", Expand: true}}, Network: "default", Security: "sandbox"}},
		{"run heredoc chomp quoted", "RUN <<-\"EOF\"\n\techo $HOME\n\tEOF", &Run{Base: b(`RUN <<-"EOF"`, 2, 4), Shell: true, Cmd: []string{`<<-"EOF"`}, Heredocs: []Heredoc{{Name: "EOF", Content: "echo $HOME\n", Chomp: true}}, Network: "default", Security: "sandbox"}},
		{"run two heredocs", "RUN python3 <<A > x <<B\nprint(1)\nA\nhi\nB", &Run{Base: b("RUN python3 <<A > x <<B", 2, 6), Shell: true, Cmd: []string{"python3 <<A > x <<B"}, Heredocs: []Heredoc{{Name: "A", Content: "print(1)\n", Expand: true}, {Name: "B", Content: "hi\n", Expand: true}}, Network: "default", Security: "sandbox"}},
		{"cmd shell", "CMD echo hi", &Cmd{Base: b("CMD echo hi", 2, 2), Shell: true, Cmd: []string{"echo hi"}}},
		{"cmd exec", `CMD ["a","b"]`, &Cmd{Base: b(`CMD ["a","b"]`, 2, 2), Cmd: []string{"a", "b"}}},
		{"cmd bad json is shell", `CMD [a, "b"]`, &Cmd{Base: b(`CMD [a, "b"]`, 2, 2), Shell: true, Cmd: []string{`[a, "b"]`}}},
		{"entrypoint exec", `ENTRYPOINT ["/bin/app", "-v"]`, &Entrypoint{Base: b(`ENTRYPOINT ["/bin/app", "-v"]`, 2, 2), Cmd: []string{"/bin/app", "-v"}}},
		{"entrypoint empty", `ENTRYPOINT []`, &Entrypoint{Base: b(`ENTRYPOINT []`, 2, 2)}},
		{"entrypoint bad json", `ENTRYPOINT ['app']`, &Entrypoint{Base: b(`ENTRYPOINT ['app']`, 2, 2), Shell: true, Cmd: []string{`['app']`}}},
		{"copy", "COPY a b /d/", &Copy{Base: b("COPY a b /d/", 2, 2), Sources: []string{"a", "b"}, Dest: "/d/"}},
		{"copy json", `COPY ["a b", "/d"]`, &Copy{Base: b(`COPY ["a b", "/d"]`, 2, 2), Sources: []string{"a b"}, Dest: "/d"}},
		{"copy flags", "COPY --from=build --chown=1:2 --chmod=0755 --link --parents --exclude=*.md --exclude=x a /d", &Copy{Base: b("COPY --from=build --chown=1:2 --chmod=0755 --link --parents --exclude=*.md --exclude=x a /d", 2, 2), Sources: []string{"a"}, Dest: "/d", From: "build", Chown: "1:2", Chmod: "0755", Link: true, Parents: true, Excludes: []string{"*.md", "x"}}},
		{"copy link false", "COPY --link=false a /d", &Copy{Base: b("COPY --link=false a /d", 2, 2), Sources: []string{"a"}, Dest: "/d"}},
		{"copy symbolic chmod", "COPY --chmod=u=rwX,go=rX a /d", &Copy{Base: b("COPY --chmod=u=rwX,go=rX a /d", 2, 2), Sources: []string{"a"}, Dest: "/d", Chmod: "u=rwX,go=rX"}},
		{"copy heredoc", "COPY <<EOF <<-\"B\" /d/\nhello $X\nEOF\n\tb\n\tB", &Copy{Base: b(`COPY <<EOF <<-"B" /d/`, 2, 6), Heredocs: []Heredoc{{Name: "EOF", Content: "hello $X\n", Expand: true}, {Name: "B", Content: "b\n", Chomp: true}}, Dest: "/d/"}},
		{"add", "ADD --checksum=sha256:abc --keep-git-dir --unpack=false --chown=u https://x/y.tgz /d", &Copy{Base: b("ADD --checksum=sha256:abc --keep-git-dir --unpack=false --chown=u https://x/y.tgz /d", 2, 2), Add: true, Sources: []string{"https://x/y.tgz"}, Dest: "/d", Chown: "u", Checksum: "sha256:abc", KeepGitDir: true, Unpack: boolp(false)}},
		{"env new form", `ENV A=1 B="x y" C=`, &Env{Base: b(`ENV A=1 B="x y" C=`, 2, 2), Pairs: []KeyValue{{"A", "1"}, {"B", `"x y"`}, {"C", ""}}}},
		{"env legacy form", "ENV A  x y", &Env{Base: b("ENV A  x y", 2, 2), Pairs: []KeyValue{{"A", "x y"}}}},
		{"arg", "ARG A B=2 C=", &Arg{Base: b("ARG A B=2 C=", 2, 2), Args: []ArgDef{{Key: "A"}, {Key: "B", Value: strp("2")}, {Key: "C", Value: strp("")}}}},
		{"label", `LABEL a=b "c d"="e f"`, &Label{Base: b(`LABEL a=b "c d"="e f"`, 2, 2), Pairs: []KeyValue{{"a", "b"}, {`"c d"`, `"e f"`}}}},
		{"expose sorted", "EXPOSE 8080 80/udp 443", &Expose{Base: b("EXPOSE 8080 80/udp 443", 2, 2), Ports: []string{"443", "80/udp", "8080"}}},
		{"user", "USER app:grp", &User{Base: b("USER app:grp", 2, 2), User: "app:grp"}},
		{"workdir", "WORKDIR /a b", &Workdir{Base: b("WORKDIR /a b", 2, 2), Path: "/a b"}},
		{"volume plain", "VOLUME /a /b", &Volume{Base: b("VOLUME /a /b", 2, 2), Volumes: []string{"/a", "/b"}}},
		{"volume json", `VOLUME ["/a", "/b c"]`, &Volume{Base: b(`VOLUME ["/a", "/b c"]`, 2, 2), Volumes: []string{"/a", "/b c"}}},
		{"shell", `SHELL ["/bin/bash", "-c"]`, &Shell{Base: b(`SHELL ["/bin/bash", "-c"]`, 2, 2), Shell: []string{"/bin/bash", "-c"}}},
		{"stopsignal", "STOPSIGNAL SIGTERM", &StopSignal{Base: b("STOPSIGNAL SIGTERM", 2, 2), Signal: "SIGTERM"}},
		{"healthcheck none", "HEALTHCHECK NONE", &Healthcheck{Base: b("HEALTHCHECK NONE", 2, 2), Test: []string{"NONE"}}},
		{"healthcheck shell", "HEALTHCHECK --interval=30s --timeout=3s --start-period=1m --start-interval=500ms --retries=3 CMD curl -f http://localhost/", &Healthcheck{Base: b("HEALTHCHECK --interval=30s --timeout=3s --start-period=1m --start-interval=500ms --retries=3 CMD curl -f http://localhost/", 2, 2), Test: []string{"CMD-SHELL", "curl -f http://localhost/"}, Interval: 30 * time.Second, Timeout: 3 * time.Second, StartPeriod: time.Minute, StartInterval: 500 * time.Millisecond, Retries: 3}},
		{"healthcheck exec", `HEALTHCHECK CMD ["/bin/check", "x"]`, &Healthcheck{Base: b(`HEALTHCHECK CMD ["/bin/check", "x"]`, 2, 2), Test: []string{"CMD", "/bin/check", "x"}}},
		{"maintainer", "MAINTAINER Jane <j@x>", &Maintainer{Base: b("MAINTAINER Jane <j@x>", 2, 2), Maintainer: "Jane <j@x>"}},
		{"onbuild", "ONBUILD COPY --chown=1 . /src", &Onbuild{Base: b("ONBUILD COPY --chown=1 . /src", 2, 2), Expression: "COPY --chown=1 . /src", Instruction: &Copy{Base: b("COPY --chown=1 . /src", 2, 2), Sources: []string{"."}, Dest: "/src", Chown: "1"}}},
		{"onbuild heredoc", "ONBUILD RUN <<EOF\nls\nEOF", &Onbuild{Base: b("ONBUILD RUN <<EOF", 2, 4), Expression: "RUN <<EOF\nls\nEOF", Instruction: &Run{Base: b("RUN <<EOF", 2, 4), Shell: true, Cmd: []string{"<<EOF"}, Heredocs: []Heredoc{{Name: "EOF", Content: "ls\n", Expand: true}}, Network: "default", Security: "sandbox"}}},
		{"lowercase keyword", "run echo", &Run{Base: b("run echo", 2, 2), Shell: true, Cmd: []string{"echo"}, Network: "default", Security: "sandbox"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseOne(t, tt.in)
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestParseMounts(t *testing.T) {
	tests := []struct {
		in   string
		want Mount
	}{
		{"target=/src", Mount{Type: "bind", Target: "/src", ReadOnly: true}},
		{"type=bind,from=build,source=/out,dst=/in,rw", Mount{Type: "bind", From: "build", Source: "/out", Target: "/in"}},
		{"type=cache,target=/root/.cache,id=go,sharing=locked,uid=1000,gid=1000,mode=0755", Mount{Type: "cache", Target: "/root/.cache", ID: "go", Sharing: "locked", UID: u32(1000), GID: u32(1000), Mode: u32(0o755)}},
		{"type=cache,destination=/c,ro", Mount{Type: "cache", Target: "/c", ReadOnly: true}},
		{"type=tmpfs,target=/t,size=64m", Mount{Type: "tmpfs", Target: "/t", Size: 64 << 20}},
		{"type=secret,id=aws,target=/root/.aws/credentials,required,mode=0400", Mount{Type: "secret", ID: "aws", Target: "/root/.aws/credentials", ReadOnly: true, Required: true, Mode: u32(0o400)}},
		{"type=secret,id=tok,env=TOKEN,required=false", Mount{Type: "secret", ID: "tok", Env: strp("TOKEN"), ReadOnly: true}},
		{"type=ssh,id=default,readonly=false,required=true", Mount{Type: "ssh", ID: "default", Required: true}},
		{"type=bind,src=a,target=/a,readwrite=true", Mount{Type: "bind", Source: "a", Target: "/a"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r := parseOne(t, "RUN --mount="+tt.in+" true").(*Run)
			if len(r.Mounts) != 1 {
				t.Fatalf("got %d mounts", len(r.Mounts))
			}
			tt.want.Raw = tt.in
			if d := cmp.Diff(&tt.want, r.Mounts[0]); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestParseStagesAndDirectives(t *testing.T) {
	src := "# syntax=docker/dockerfile:1\n# escape=`\n# check=skip=all\nARG BASE=alpine\nARG V\nFROM $BASE AS Build\nRUN echo a `\n  b\nFROM --platform=$BUILDPLATFORM build\nCOPY --from=Build /x /y\n"
	df, err := Parse(strings.NewReader(src), WithName("dir/Dockerfile.win"))
	if err != nil {
		t.Fatal(err)
	}
	if df.Escape != '`' || df.Syntax != "docker/dockerfile:1" || df.Name != "dir/Dockerfile.win" {
		t.Errorf("directives: escape %q syntax %q name %q", df.Escape, df.Syntax, df.Name)
	}
	if len(df.MetaArgs) != 2 || df.MetaArgs[0].Args[0].Key != "BASE" {
		t.Errorf("meta args: %+v", df.MetaArgs)
	}
	if len(df.Stages) != 2 {
		t.Fatalf("stages: %d", len(df.Stages))
	}
	s0, s1 := df.Stages[0], df.Stages[1]
	if s0.Name != "build" || s0.Index != 0 || s0.From.Image != "$BASE" || s1.Name != "" || s1.Index != 1 || s1.From.Platform != "$BUILDPLATFORM" {
		t.Errorf("stages: %+v %+v / %+v %+v", s0, s0.From, s1, s1.From)
	}
	run := s0.Instructions[0].(*Run)
	if run.Cmd[0] != "echo a   b" || run.Loc != (Location{File: "dir/Dockerfile.win", Start: 7, End: 8}) {
		t.Errorf("run: %+v", run)
	}
}

func TestDirectiveNotAtTop(t *testing.T) {
	// A directive after an instruction is a comment: the escape stays '\'.
	df, err := Parse(strings.NewReader("FROM scratch\n# escape=`\nRUN a \\\n b\n"))
	if err != nil {
		t.Fatal(err)
	}
	if df.Escape != '\\' {
		t.Errorf("escape = %q", df.Escape)
	}
	if got := df.Stages[0].Instructions[0].(*Run).Cmd[0]; got != "a  b" {
		t.Errorf("cmd = %q", got)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"unknown instruction", "FROM a\nRUNN x", "Dockerfile:2: unknown instruction: RUNN (did you mean RUN?)"},
		{"unknown lowercase", "FROM a\ncopyy x y", "Dockerfile:2: unknown instruction: copyy (did you mean copy?)"},
		{"unknown no suggestion", "FROM a\nFOOBARBAZ x", "Dockerfile:2: unknown instruction: FOOBARBAZ"},
		{"before from", "RUN x\nFROM a", "Dockerfile:1: no build stage in current context"},
		{"no stages", "ARG A=1\n", "Dockerfile:1: dockerfile contains no stages to build"},
		{"empty file", "# just a comment\n", "file with no instructions"},
		{"duplicate stage", "FROM a AS x\nFROM b AS X", `Dockerfile:2: Duplicate stage name "x", stage names should be unique`},
		{"invalid stage name", "FROM a AS 1x", `Dockerfile:1: invalid name for build stage: "1x", name can't start with a number or contain symbols`},
		{"from args", "FROM a b", "Dockerfile:1: FROM requires either one or three arguments"},
		{"unknown flag suggestion", "FROM a\nCOPY --chmown=1 a b", "Dockerfile:2: unknown flag: --chmown (did you mean chown?)"},
		{"unknown flag", "FROM a\nRUN --foo=1 x", "Dockerfile:2: unknown flag: --foo"},
		{"from flag on add", "FROM a\nADD --from=x a b", "Dockerfile:2: unknown flag: --from"},
		{"duplicate flag", "FROM a\nCOPY --chown=1 --chown=2 a b", "Dockerfile:2: duplicate flag specified: --chown"},
		{"flag missing value", "FROM a\nCOPY --chown a b", "Dockerfile:2: missing a value on flag: --chown"},
		{"bool flag bad", "FROM a\nCOPY --link=yes a b", "Dockerfile:2: expecting boolean value for flag --link, not: yes"},
		{"copy one arg", "FROM a\nCOPY a", "Dockerfile:2: COPY requires at least two arguments, but only one was provided. Destination could not be determined"},
		{"add one arg", "FROM a\nADD a", "Dockerfile:2: ADD requires at least two arguments, but only one was provided. Destination could not be determined"},
		{"copy from variable", "FROM a\nCOPY --from=$X a b", "Dockerfile:2: variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround"},
		{"copy bad chmod", "FROM a\nCOPY --chmod=999 a b", "Dockerfile:2: invalid chmod parameter: '999'. it should be octal string and between 0 and 07777"},
		{"copy bad chmod big", "FROM a\nCOPY --chmod=17777 a b", "Dockerfile:2: invalid chmod parameter: '17777'. it should be octal string and between 0 and 07777"},
		{"copy bad symbolic", "FROM a\nCOPY --chmod=u=q a b", `Dockerfile:2: invalid mode: "u=q"`},
		{"heredoc dest", "FROM a\nCOPY a <<EOF\nx\nEOF", "Dockerfile:2: COPY cannot accept a heredoc as a destination"},
		{"unterminated heredoc", "FROM a\nRUN <<EOF\nx\n", "Dockerfile:2: unterminated heredoc"},
		{"checksum multi", "FROM a\nADD --checksum=sha256:0 a b /d", "Dockerfile:2: checksum can't be specified for multiple sources"},
		{"checksum local", "FROM a\nRUN true\nADD --checksum=sha256:0 f /d", "Dockerfile:3: checksum can't be specified for non-HTTP(S) sources: f"},
		{"env missing", "FROM a\nENV", "Dockerfile:2: ENV requires at least one argument"},
		{"env no value", "FROM a\nENV A", "Dockerfile:2: ENV must have two arguments"},
		{"arg missing", "FROM a\nARG", "Dockerfile:2: ARG requires at least one argument"},
		{"arg blank", "FROM a\nARG =x", "Dockerfile:2: ARG names can not be blank"},
		{"label missing", "FROM a\nLABEL", "Dockerfile:2: LABEL requires at least one argument"},
		{"expose missing", "FROM a\nEXPOSE", "Dockerfile:2: EXPOSE requires at least one argument"},
		{"user missing", "FROM a\nUSER", "Dockerfile:2: USER requires exactly one argument"},
		{"workdir missing", "FROM a\nWORKDIR", "Dockerfile:2: WORKDIR requires exactly one argument"},
		{"volume missing", "FROM a\nVOLUME", "Dockerfile:2: VOLUME requires at least one argument"},
		{"volume empty", "FROM a\nVOLUME [\"\"]", "Dockerfile:2: VOLUME specified can not be an empty string"},
		{"stopsignal missing", "FROM a\nSTOPSIGNAL", "Dockerfile:2: STOPSIGNAL requires exactly one argument"},
		{"maintainer missing", "FROM a\nMAINTAINER", "Dockerfile:2: MAINTAINER requires exactly one argument"},
		{"shell not json", "FROM a\nSHELL /bin/sh -c", "Dockerfile:2: SHELL requires the arguments to be in JSON form"},
		{"shell empty", "FROM a\nSHELL []", "Dockerfile:2: SHELL requires at least one argument"},
		{"run missing", "FROM a\nRUN", "Dockerfile:2: RUN requires at least one argument"},
		{"run network", "FROM a\nRUN --network=bridge x", `Dockerfile:2: invalid network mode "bridge"`},
		{"run security", "FROM a\nRUN --security=x x", `Dockerfile:2: security "x" is not valid`},
		{"mount type", "FROM a\nRUN --mount=type=cahce,target=/x x", `Dockerfile:2: unsupported mount type "cahce" (did you mean cache?)`},
		{"mount key", "FROM a\nRUN --mount=type=cache,targte=/x x", `Dockerfile:2: unexpected key 'targte' in 'targte=/x' (did you mean target?)`},
		{"mount sharing", "FROM a\nRUN --mount=type=cache,target=/x,sharing=lockd x", `Dockerfile:2: unsupported sharing value "lockd" (did you mean locked?)`},
		{"mount mode on bind", "FROM a\nRUN --mount=target=/x,mode=0700 x", `Dockerfile:2: mode not allowed for "bind" type mounts`},
		{"mount bad mode", "FROM a\nRUN --mount=type=cache,target=/x,mode=9 x", "Dockerfile:2: invalid value 9 for mode"},
		{"mount size on cache", "FROM a\nRUN --mount=type=cache,target=/x,size=1m x", "Dockerfile:2: unexpected key 'size' for mount type 'cache'"},
		{"mount required on bind", "FROM a\nRUN --mount=target=/x,required x", "Dockerfile:2: unexpected key 'required' for mount type 'bind'"},
		{"mount secret from", "FROM a\nRUN --mount=type=secret,id=a,from=b x", "Dockerfile:2: secret mount should not have a from"},
		{"mount secret empty", "FROM a\nRUN --mount=type=secret x", "Dockerfile:2: invalid secret mount. one of source, target required"},
		{"mount from variable", "FROM a\nRUN --mount=from=$X,target=/x x", "Dockerfile:2: 'from' doesn't support variable expansion, define alias stage instead"},
		{"mount bad field", "FROM a\nRUN --mount=target=/x,bogus x", "Dockerfile:2: invalid field 'bogus' must be a key=value pair"},
		{"healthcheck none args", "FROM a\nHEALTHCHECK NONE x", "Dockerfile:2: HEALTHCHECK NONE takes no arguments"},
		{"healthcheck type", "FROM a\nHEALTHCHECK RUN x", `Dockerfile:2: Unknown type "RUN" in HEALTHCHECK (try CMD)`},
		{"healthcheck no cmd", "FROM a\nHEALTHCHECK CMD", "Dockerfile:2: Missing command after HEALTHCHECK CMD"},
		{"healthcheck interval", "FROM a\nHEALTHCHECK --interval=1us CMD x", `Dockerfile:2: Interval "interval" cannot be less than 1ms`},
		{"healthcheck bad duration", "FROM a\nHEALTHCHECK --timeout=x CMD x", `Dockerfile:2: time: invalid duration "x"`},
		{"healthcheck retries", "FROM a\nHEALTHCHECK --retries=-1 CMD x", "Dockerfile:2: --retries cannot be negative (-1)"},
		{"healthcheck missing", "FROM a\nHEALTHCHECK", "Dockerfile:2: HEALTHCHECK requires at least one argument"},
		{"onbuild onbuild", "FROM a\nONBUILD ONBUILD RUN x", "Dockerfile:2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"},
		{"onbuild from", "FROM a\nONBUILD FROM x", "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger"},
		{"onbuild maintainer", "FROM a\nONBUILD MAINTAINER x", "Dockerfile:2: MAINTAINER isn't allowed as an ONBUILD trigger"},
		{"onbuild inner error", "FROM a\nONBUILD COPY x", "Dockerfile:2: COPY requires at least two arguments, but only one was provided. Destination could not be determined"},
		{"bad escape", "# escape=x\nFROM a", "invalid escape token 'x' does not match ` or \\"},
		{"exec form not strings", "FROM a\nCMD [1, 2]", "Dockerfile:2: "},
		{"error line after continuation", "FROM a\nRUN a \\\n b\nCOPY x", "Dockerfile:4: COPY requires at least two arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.in))
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *parser.Error", err, err)
			}
			if pe.File != "Dockerfile" || pe.Start < 1 {
				t.Errorf("location %+v", pe.Location)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want %q", err.Error(), tt.want)
			}
		})
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		value   string
		options []string
		want    string
	}{
		{"buid", []string{"build", "test"}, " (did you mean build?)"},
		{"build", []string{"build"}, ""},
		{"zzzzzz", []string{"build"}, ""},
		{"RUNN", instructionNames, " (did you mean RUN?)"},
		{"Runn", instructionNames, " (did you mean run?)"},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			if got := Suggest(tt.value, tt.options); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
