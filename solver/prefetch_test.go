package solver

import (
	"slices"
	"strings"
	"testing"

	"github.com/builderdev/builder/parser"
)

// TestContextSources: the build-context sources prefetched are those of
// the COPY and ADD steps of the stages the target needs, as written; a
// stage's COPY --from, a variable, --exclude and --parents are left out.
func TestContextSources(t *testing.T) {
	df, err := parser.Parse(strings.NewReader(`FROM busybox AS unused
COPY unused/ /u/

FROM busybox AS deps
COPY package.json lock.json /app/
ADD vendor /vendor

FROM busybox
ARG DIR=src
COPY --from=deps /app /app
COPY $DIR /src
COPY --exclude=*.md docs /docs
COPY --parents ./a/b /p/
COPY . /ctx/
`))
	if err != nil {
		t.Fatal(err)
	}
	b := &build{df: df, req: &Request{}, contextDir: t.TempDir()}
	if b.globals, err = parser.NewGlobals(df, parser.BuildArgs{}); err != nil {
		t.Fatal(err)
	}
	if err := b.plan(len(df.Stages) - 1); err != nil {
		t.Fatal(err)
	}
	got := b.contextSources()
	want := []string{"package.json", "lock.json", "vendor", "."}
	if !slices.Equal(got, want) {
		t.Errorf("contextSources = %q, want %q", got, want)
	}
	b.contextDir = ""
	if got := b.contextSources(); got != nil {
		t.Errorf("contextSources without a context = %q, want none", got)
	}
}
