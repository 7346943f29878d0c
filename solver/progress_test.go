package solver

import (
	"strings"
	"testing"

	"github.com/builderdev/builder/parser"
)

func TestStepName(t *testing.T) {
	tests := []struct {
		label    string
		i, total int
		want     string
	}{
		{"", 1, 3, "[1/3] RUN x"},
		{"stage-1", 2, 3, "[stage-1 2/3] RUN x"},
		{"build", 3, 12, "[build  3/12] RUN x"},
		{"", 1, 0, "RUN x"},
	}
	for _, tt := range tests {
		if got := stepName(tt.label, tt.i, tt.total, "RUN x"); got != tt.want {
			t.Errorf("stepName(%q, %d, %d) = %q, want %q", tt.label, tt.i, tt.total, got, tt.want)
		}
	}
}

func planned(t *testing.T, dockerfile string) []*stageRun {
	t.Helper()
	df, err := parser.Parse(strings.NewReader(dockerfile))
	if err != nil {
		t.Fatal(err)
	}
	b := &build{df: df, req: &Request{}}
	if b.globals, err = parser.NewGlobals(df, parser.BuildArgs{}); err != nil {
		t.Fatal(err)
	}
	if err := b.plan(len(df.Stages) - 1); err != nil {
		t.Fatal(err)
	}
	return b.stages
}

func TestStagePrefixAndTotal(t *testing.T) {
	tests := []struct {
		name, df string
		prefixes []string
		totals   []int
	}{
		{"single stage", "FROM busybox\nENV A=1\nRUN a\nCOPY x /x\n", []string{""}, []int{3}},
		{"single stage from scratch", "FROM scratch\nCOPY x /x\n", []string{""}, []int{1}},
		// A COPY --from an image or any RUN --mount is a source of its own.
		{"copy from image", "FROM busybox\nCOPY --from=alpine /x /x\n", []string{"stage-0"}, []int{2}},
		{"run mount", "FROM busybox\nRUN --mount=type=cache,target=/c true\n", []string{"stage-0"}, []int{2}},
		// FROM another stage is no step.
		{"multi stage", "FROM busybox AS build\nRUN a\nFROM build\nRUN b\nFROM busybox\nCOPY --from=1 /a /a\n", []string{"build", "stage-1", "stage-2"}, []int{2, 1, 2}},
	}
	for _, tt := range tests {
		stages := planned(t, tt.df)
		for i, sr := range stages {
			if sr.prefix != tt.prefixes[i] || sr.total != tt.totals[i] {
				t.Errorf("%s: stage %d prefix %q total %d, want %q %d", tt.name, i, sr.prefix, sr.total, tt.prefixes[i], tt.totals[i])
			}
		}
	}
}

func TestCopyTitle(t *testing.T) {
	df, err := parser.Parse(strings.NewReader("FROM busybox\nARG MODE=755\nCOPY --chmod=$MODE x /app/y\n"))
	if err != nil {
		t.Fatal(err)
	}
	b := &build{df: df, req: &Request{}}
	if b.globals, err = parser.NewGlobals(df, parser.BuildArgs{}); err != nil {
		t.Fatal(err)
	}
	sr := &stageRun{scope: b.globals.NewStage(nil)}
	insts := df.Stages[0].Instructions
	if _, err := sr.scope.Step(insts[0]); err != nil {
		t.Fatal(err)
	}
	if got, want := b.copyTitle(sr, "COPY", insts[1].Original()), "COPY --chmod=755 x /app/y"; got != want {
		t.Errorf("title %q, want %q", got, want)
	}
}

func TestCopyFromSelfIndex(t *testing.T) {
	for _, from := range []string{"1", "two", "2"} {
		df, err := parser.Parse(strings.NewReader("FROM busybox\nFROM busybox AS two\nCOPY --from=" + from + " /a /a\nFROM busybox\n"))
		if err != nil {
			t.Fatal(err)
		}
		b := &build{df: df, req: &Request{}}
		if b.globals, err = parser.NewGlobals(df, parser.BuildArgs{}); err != nil {
			t.Fatal(err)
		}
		err = b.plan(1)
		if err == nil || !strings.Contains(err.Error(), "is not defined before this stage") {
			t.Errorf("COPY --from=%s in stage 1: err = %v", from, err)
		}
	}
}
