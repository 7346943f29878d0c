package parser

import (
	"errors"
	"strings"
	"testing"

	"github.com/builderdev/builder/parser/shell"
	"github.com/google/go-cmp/cmp"
)

func TestExpand(t *testing.T) {
	env := shell.EnvMap{"A": "1", "B": "two words", "D": "/dst", "U": "app", "M": "0640", "P": "80 443/udp", "T": "cache", "E": ""}
	lex := &shell.Lexer{Escape: '\\'}
	tests := []struct {
		name string
		in   string
		// check receives the expanded instruction.
		want func(Instruction) any
		exp  any
	}{
		{"from", "FROM --platform=linux/$A img:$A AS s", func(i Instruction) any { f := i.(*From); return []string{f.Image, f.Platform, f.Name} }, []string{"img:1", "linux/1", "s"}},
		{"copy", "COPY --from=s --chown=$U:$U --chmod=$M a$A \"$B\" $D/", func(i Instruction) any {
			c := i.(*Copy)
			return []string{c.From, c.Chown, c.Chmod, strings.Join(c.Sources, "|"), c.Dest}
		}, []string{"s", "app:app", "0640", "a1|two words", "/dst/"}},
		{"add checksum", "ADD --checksum=$A http://x/$A /d", func(i Instruction) any { c := i.(*Copy); return []string{c.Checksum, c.Sources[0]} }, []string{"1", "http://x/1"}},
		{"env uses old values", "ENV A=2 C=$A", func(i Instruction) any { return i.(*Env).Pairs }, []KeyValue{{"A", "2"}, {"C", "1"}}},
		{"env quotes", `ENV X="$B" Y='$B' Z=\$B`, func(i Instruction) any { return i.(*Env).Pairs }, []KeyValue{{"X", "two words"}, {"Y", "$B"}, {"Z", "$B"}}},
		{"label", `LABEL k$A="v $B"`, func(i Instruction) any { return i.(*Label).Pairs }, []KeyValue{{"k1", "v two words"}}},
		{"arg default", "ARG X=${A}x Y", func(i Instruction) any { a := i.(*Arg); return []any{*a.Args[0].Value, a.Args[1].Value == nil} }, []any{"1x", true}},
		{"expose split", "EXPOSE $P 22", func(i Instruction) any { return i.(*Expose).Ports }, []string{"80", "443/udp", "22"}},
		{"user", "USER ${U}:$A", func(i Instruction) any { return i.(*User).User }, "app:1"},
		{"workdir", "WORKDIR $D/${E:-def}", func(i Instruction) any { return i.(*Workdir).Path }, "/dst/def"},
		{"volume", "VOLUME $D /v$A", func(i Instruction) any { return i.(*Volume).Volumes }, []string{"/dst", "/v1"}},
		{"stopsignal", "STOPSIGNAL SIG$A", func(i Instruction) any { return i.(*StopSignal).Signal }, "SIG1"},
		{"run mounts expanded, command not", "RUN --mount=type=$T,target=$D,id=x$A echo $A", func(i Instruction) any {
			r := i.(*Run)
			return []string{r.Mounts[0].Type, r.Mounts[0].Target, r.Mounts[0].ID, r.Cmd[0]}
		}, []string{"cache", "/dst", "x1", "echo $A"}},
		{"copy heredoc bodies", "COPY <<EOF <<\"Q\" /d\n\"$A\" '$B' \\$A\nEOF\n$A\nQ", func(i Instruction) any {
			c := i.(*Copy)
			return []string{c.Heredocs[0].Content, c.Heredocs[1].Content}
		}, []string{"\"1\" 'two words' $A\n", "$A\n"}},
		{"cmd not expanded", "CMD echo $A", func(i Instruction) any { return i.(*Cmd).Cmd }, []string{"echo $A"}},
		{"entrypoint not expanded", `ENTRYPOINT ["$A"]`, func(i Instruction) any { return i.(*Entrypoint).Cmd }, []string{"$A"}},
		{"shell not expanded", `SHELL ["$A"]`, func(i Instruction) any { return i.(*Shell).Shell }, []string{"$A"}},
		{"healthcheck not expanded", `HEALTHCHECK CMD $A`, func(i Instruction) any { return i.(*Healthcheck).Test }, []string{"CMD-SHELL", "$A"}},
		{"onbuild not expanded", `ONBUILD RUN $A`, func(i Instruction) any { return i.(*Onbuild).Expression }, "RUN $A"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var inst Instruction
			if strings.HasPrefix(tt.in, "FROM") {
				df, err := Parse(strings.NewReader(tt.in))
				if err != nil {
					t.Fatal(err)
				}
				inst = df.Stages[0].From
			} else {
				inst = parseOne(t, tt.in)
			}
			before := tt.want(inst)
			got, err := Expand(inst, lex, env)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.exp, tt.want(got)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			if d := cmp.Diff(before, tt.want(inst)); d != "" {
				t.Errorf("Expand changed its input:\n%s", d)
			}
			if got.Location() != inst.Location() || got.Original() != inst.Original() {
				t.Errorf("location/original changed")
			}
		})
	}
}

func TestExpandErrors(t *testing.T) {
	lex := &shell.Lexer{Escape: '\\'}
	env := shell.EnvMap{"M": "0999", "BAD": "u=z"}
	tests := []struct{ name, in, want string }{
		{"required var", "WORKDIR ${NOPE:?must be set}", "Dockerfile:3: "},
		{"chmod after expansion", "COPY --chmod=$M a b", "Dockerfile:3: invalid chmod parameter: '0999'"},
		{"symbolic after expansion", "COPY --chmod=$BAD a b", `Dockerfile:3: invalid mode: "u=z"`},
		{"mount after expansion", "RUN --mount=type=$M x", `Dockerfile:3: unsupported mount type "0999"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			df, err := Parse(strings.NewReader("FROM a\n\n" + tt.in))
			if err != nil {
				t.Fatal(err)
			}
			_, err = Expand(df.Stages[0].Instructions[0], lex, env)
			var pe *Error
			if err == nil || !errors.As(err, &pe) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want *Error containing %q", err, tt.want)
			}
			if tt.name == "required var" && !strings.Contains(err.Error(), "must be set") {
				t.Errorf("error %q lacks the message", err)
			}
		})
	}
}

func TestScope(t *testing.T) {
	src := `ARG BASE=alpine
ARG TAG=3.$MINOR
ARG MINOR=19
ARG GLOBAL_ONLY=g
ARG OVERRIDDEN=default
FROM --platform=$BUILDPLATFORM $BASE:$TAG AS build
RUN echo before
ARG GLOBAL_ONLY
ARG OVERRIDDEN
ARG LOCAL=l-$GLOBAL_ONLY
ARG TARGETARCH
ENV E1=e1 E2=$LOCAL
ARG E1=argwins
ENV LOCAL=envwins
ARG NOVAL
ARG HTTP_PROXY
FROM scratch
ARG TARGETOS
ARG X=$GLOBAL_ONLY
`
	df, err := Parse(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	g, err := NewGlobals(df, BuildArgs{
		Values: map[string]string{"OVERRIDDEN": "cli", "http_proxy": "http://proxy:3128", "HTTP_PROXY": "http://P:1", "https_proxy": "https://s:2"},
		Build:  Platform{OS: "linux", Architecture: "amd64"},
		Target: Platform{OS: "linux", Architecture: "arm64", Variant: "v8"},
	})
	if err != nil {
		t.Fatal(err)
	}
	from, err := g.ExpandFrom(df.Stages[0].From)
	if err != nil {
		t.Fatal(err)
	}
	// TAG is expanded before MINOR is declared: "3.".
	if from.Image != "alpine:3." || from.Platform != "linux/amd64" {
		t.Errorf("from: %q %q", from.Image, from.Platform)
	}
	sc := g.NewStage([]string{"PATH=/usr/bin", "E1=base"})
	var seen []string
	for _, inst := range df.Stages[0].Instructions {
		if _, ok := inst.(*Run); ok {
			// Globals are not visible before their ARG line in the stage.
			if _, ok := sc.Get("GLOBAL_ONLY"); ok {
				t.Errorf("global visible in stage before ARG")
			}
		}
		x, err := sc.Step(inst)
		if err != nil {
			t.Fatal(err)
		}
		if a, ok := x.(*Arg); ok {
			for _, d := range a.Args {
				v := "<nil>"
				if d.Value != nil {
					v = *d.Value
				}
				seen = append(seen, d.Key+"="+v)
			}
		}
	}
	wantArgs := []string{"GLOBAL_ONLY=g", "OVERRIDDEN=cli", "LOCAL=l-g", "TARGETARCH=arm64", "E1=argwins", "NOVAL=<nil>", "HTTP_PROXY=http://P:1"}
	if d := cmp.Diff(wantArgs, seen); d != "" {
		t.Errorf("args (-want +got):\n%s", d)
	}
	wantEnv := []string{"PATH=/usr/bin", "E1=argwins", "GLOBAL_ONLY=g", "OVERRIDDEN=cli", "LOCAL=envwins", "TARGETARCH=arm64", "E2=l-g", "HTTP_PROXY=http://P:1"}
	if d := cmp.Diff(wantEnv, sc.Env()); d != "" {
		t.Errorf("env (-want +got):\n%s", d)
	}
	// Each proxy given in one spelling is set in both (BuildKit's
	// proxyEnvList); a spelling given on its own keeps its own value.
	wantRun := append(wantEnv, "http_proxy=http://proxy:3128", "HTTPS_PROXY=https://s:2", "https_proxy=https://s:2")
	if d := cmp.Diff(wantRun, sc.RunEnv()); d != "" {
		t.Errorf("run env (-want +got):\n%s", d)
	}
	if _, ok := sc.Get("http_proxy"); ok {
		t.Errorf("undeclared proxy arg visible to expansion")
	}

	sc2 := g.NewStage(nil)
	var got []string
	for _, inst := range df.Stages[1].Instructions {
		x, err := sc2.Step(inst)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, x.(*Arg).Args[0].Key+"="+*x.(*Arg).Args[0].Value)
	}
	// An ARG default sees only the stage scope: GLOBAL_ONLY was not re-declared.
	if d := cmp.Diff([]string{"TARGETOS=linux", "X="}, got); d != "" {
		t.Errorf("stage 2 (-want +got):\n%s", d)
	}
	if _, ok := sc2.Get("TARGETARCH"); ok {
		t.Errorf("automatic arg visible without ARG")
	}
}

func TestGlobalsErrorsAndDefaults(t *testing.T) {
	df, err := Parse(strings.NewReader("ARG X=${Y:?Y_is_required}\nFROM a\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewGlobals(df, BuildArgs{}); err == nil || !strings.Contains(err.Error(), "Dockerfile:1: ") || !strings.Contains(err.Error(), "Y_is_required") {
		t.Errorf("error = %v", err)
	}
	g, err := NewGlobals(df, BuildArgs{Values: map[string]string{"X": "$notexpanded"}})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := g.Get("X"); v != "$notexpanded" {
		t.Errorf("build arg value = %q", v)
	}
	if v, _ := g.Get("TARGETSTAGE"); v != "default" {
		t.Errorf("TARGETSTAGE = %q", v)
	}
}
