package parser

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Words of key=value instructions are not split at spaces inside ${...};
// every other instruction is split as buildkit splits it.
func TestParseBraceWords(t *testing.T) {
	pairs := func(i Instruction) any {
		switch v := i.(type) {
		case *Env:
			return v.Pairs
		case *Label:
			return v.Pairs
		case *Onbuild:
			return v.Instruction.(*Env).Pairs
		}
		t.Fatalf("unexpected %T", i)
		return nil
	}
	tests := []struct {
		name string
		in   string
		get  func(Instruction) any
		want any
	}{
		{"env required", "ENV B=${A:?need A set}", pairs, []KeyValue{{"B", "${A:?need A set}"}}},
		{"env default and more pairs", "ENV B=${A:-two words} C=${A:+x y}\tD=${A/x y/z}", pairs,
			[]KeyValue{{"B", "${A:-two words}"}, {"C", "${A:+x y}"}, {"D", "${A/x y/z}"}}},
		{"env nested", "ENV B=${A:-${C:-a b} c} D=1", pairs, []KeyValue{{"B", "${A:-${C:-a b} c}"}, {"D", "1"}}},
		{"env quoted around", `ENV B="${A:-x y}"z E='${A:-p q}'`, pairs, []KeyValue{{"B", `"${A:-x y}"z`}, {"E", `'${A:-p q}'`}}},
		{"env continuation", "ENV X=1 \\\n  B=${A:-two words}", pairs, []KeyValue{{"X", "1"}, {"B", "${A:-two words}"}}},
		{"env legacy form", "ENV B ${A:-two  words} tail", pairs, []KeyValue{{"B", "${A:-two  words} tail"}}},
		{"label", `LABEL k=${A:-v w} "m n"=o`, pairs, []KeyValue{{"k", "${A:-v w}"}, {`"m n"`, "o"}}},
		{"onbuild env", "ONBUILD ENV B=${A:-x y}", pairs, []KeyValue{{"B", "${A:-x y}"}}},
		{"arg", "ARG B=${A:?need A set} C", func(i Instruction) any {
			a := i.(*Arg)
			return []any{a.Args[0].Key, *a.Args[0].Value, a.Args[1].Key, len(a.Args)}
		}, []any{"B", "${A:?need A set}", "C", 2}},
		{"onbuild text kept", "ONBUILD ENV B=${A:-x y}", func(i Instruction) any { return []string{i.Original(), i.(*Onbuild).Expression} },
			[]string{"ONBUILD ENV B=${A:-x y}", "ENV B=${A:-x y}"}},
		// Not key=value: split exactly as before.
		{"copy split as buildkit does", "COPY ${A:-a b} /d", func(i Instruction) any { return i.(*Copy).Sources }, []string{"${A:-a", "b}"}},
		{"volume split as buildkit does", "VOLUME ${A:-a b}", func(i Instruction) any { return i.(*Volume).Volumes }, []string{"${A:-a", "b}"}},
		{"run kept", "RUN echo ${A:-a  b}", func(i Instruction) any { return i.(*Run).Cmd }, []string{"echo ${A:-a  b}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseOne(t, tt.in)
			if d := cmp.Diff(tt.want, tt.get(got)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestParseBraceWordsErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		// An escaped "$" opens no ${...}: the space splits the word.
		{"escaped dollar", `ENV B=\${A:-x y}`, `Dockerfile:2: Syntax error - can't find = in "y}"`},
		// A ${ not closed on its line hides nothing.
		{"unclosed", "ENV B=${A:-x y", `Dockerfile:2: Syntax error - can't find = in "y"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader("FROM scratch\n" + tt.in))
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParseBraceWordsEscapeDirective(t *testing.T) {
	// The escape token decides which "}" closes and which "$" is escaped.
	df, err := Parse(strings.NewReader("FROM scratch\nENV B=${A:-x\\}y z} C=1\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []KeyValue{{"B", `${A:-x\}y z}`}, {"C", "1"}}
	if d := cmp.Diff(want, df.Stages[0].Instructions[0].(*Env).Pairs); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	for in, msg := range map[string]string{
		"ENV B=${A:-x\\}y z}": `Dockerfile:3: Syntax error - can't find = in "z}"`,
		"ENV B=`${A:-x y}":    `Dockerfile:3: Syntax error - can't find = in "y}"`,
	} {
		_, err := Parse(strings.NewReader("# escape=`\nFROM scratch\n" + in + "\n"))
		if err == nil || !strings.HasPrefix(err.Error(), msg) {
			t.Errorf("%s: error %v, want %q", in, err, msg)
		}
	}
}

// The values reach the shell lexer whole: ${A:?msg} fails with the message
// and the line, and the modifiers with spaces give their words.
func TestScopeBraceWords(t *testing.T) {
	src := "FROM scratch\nENV X=1\nENV B=${A:?need A set} C=${A:-two words} D=${A:+x y} E=${A/x y/z}\nLABEL l=${A:-v w}\nARG F=${A:-p q}\n"
	df, err := Parse(strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	run := func(args map[string]string) ([]Instruction, error) {
		g, err := NewGlobals(df, BuildArgs{Values: args})
		if err != nil {
			return nil, err
		}
		sc := g.NewStage(nil)
		var out []Instruction
		for _, inst := range df.Stages[0].Instructions {
			x, err := sc.Step(inst)
			if err != nil {
				return out, err
			}
			out = append(out, x)
		}
		return out, nil
	}
	_, err = run(nil)
	var pe *Error
	if err == nil || !errors.As(err, &pe) || pe.Start != 3 || !strings.HasPrefix(err.Error(), "Dockerfile:3: ") || !strings.HasSuffix(err.Error(), ": A: need A set") {
		t.Fatalf("unset A: error %v, want Dockerfile:3: ...: A: need A set", err)
	}

	// A set through an ENV before the step.
	df, err = Parse(strings.NewReader(strings.Replace(src, "ENV X=1", "ENV A=ax_yb", 1)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := run(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []KeyValue{{"B", "ax_yb"}, {"C", "ax_yb"}, {"D", "x y"}, {"E", "ax_yb"}}
	if d := cmp.Diff(want, got[1].(*Env).Pairs); d != "" {
		t.Errorf("ENV (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]KeyValue{{"l", "ax_yb"}}, got[2].(*Label).Pairs); d != "" {
		t.Errorf("LABEL (-want +got):\n%s", d)
	}
	if v := got[3].(*Arg).Args[0].Value; v == nil || *v != "ax_yb" {
		t.Errorf("ARG F = %v, want ax_yb", v)
	}

	df, err = Parse(strings.NewReader(strings.Replace(src, "ENV X=1", "ENV A=\"ax y\"", 1)))
	if err != nil {
		t.Fatal(err)
	}
	got, err = run(nil)
	if err != nil {
		t.Fatal(err)
	}
	want = []KeyValue{{"B", "ax y"}, {"C", "ax y"}, {"D", "x y"}, {"E", "az"}}
	if d := cmp.Diff(want, got[1].(*Env).Pairs); d != "" {
		t.Errorf("ENV with spaces in A (-want +got):\n%s", d)
	}

	// Unset A: the defaults with spaces.
	df, err = Parse(strings.NewReader("FROM scratch\nENV C=${A:-two words} D=${A:+x y}\nARG F=${A:-p q}\n"))
	if err != nil {
		t.Fatal(err)
	}
	got, err = run(nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]KeyValue{{"C", "two words"}, {"D", ""}}, got[0].(*Env).Pairs); d != "" {
		t.Errorf("ENV unset A (-want +got):\n%s", d)
	}
	if v := got[1].(*Arg).Args[0].Value; v == nil || *v != "p q" {
		t.Errorf("ARG F = %v, want %q", v, "p q")
	}
}

func TestParseBraceWordsMetaArg(t *testing.T) {
	df, err := Parse(strings.NewReader("ARG B=${A:-x y} C\nFROM scratch\n"))
	if err != nil {
		t.Fatal(err)
	}
	a := df.MetaArgs[0].Args
	if len(a) != 2 || a[0].Key != "B" || a[0].Value == nil || *a[0].Value != "${A:-x y}" || a[1].Key != "C" {
		t.Errorf("meta ARG = %+v", a)
	}
}
