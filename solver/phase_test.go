package solver

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/builderdev/builder/cache"
	"github.com/builderdev/builder/parser"
	"github.com/builderdev/builder/store"
)

// TestCopyReportsPhases: a COPY that runs reports how long hashing and
// writing its layer took, as phase events of its own vertex between its
// start and its end; a cached COPY reports none.
func TestCopyReportsPhases(t *testing.T) {
	ctx := context.Background()
	ctxDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(ctxDir, "a"), []byte("a"), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(st.CacheDir(), st)
	if err != nil {
		t.Fatal(err)
	}
	df, err := parser.Parse(strings.NewReader("FROM scratch\nCOPY a /a\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cached := range []bool{false, true} {
		ev := &events{}
		if _, err := New(st, c, WithReporter(ev)).Build(ctx, &Request{Dockerfile: df, ContextDir: ctxDir}); err != nil {
			t.Fatal(err)
		}
		var seq []string
		for _, e := range ev.all {
			if strings.Contains(e.Name, "COPY a /a") {
				s := string(e.Status)
				if e.Status == StatusPhase {
					s += ":" + e.Data
					if e.Duration < 0 {
						t.Errorf("phase %s has a negative duration", e.Data)
					}
				}
				seq = append(seq, s)
			}
		}
		want := "started phase:hash phase:copy+compress done"
		if cached {
			want = "cached"
		}
		if got := strings.Join(seq, " "); got != want {
			t.Errorf("cached=%v: COPY events %q, want %q", cached, got, want)
		}
	}
}
