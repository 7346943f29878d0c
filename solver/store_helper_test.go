package solver

import (
	"context"
	"testing"

	"github.com/builderdev/builder/cache"
	"github.com/builderdev/builder/parser"
	"github.com/builderdev/builder/store"
)

// testSolver opens the store at root and its cache, as each run of the
// binary does, and returns a Solver over them.
func testSolver(t *testing.T, root string) *Solver {
	t.Helper()
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(st.CacheDir(), st)
	if err != nil {
		t.Fatal(err)
	}
	return New(st, c)
}

// buildIn builds df with the context ctxDir by a new Solver over the store
// at root, and returns the result and how many files its stat cache read.
func buildIn(t *testing.T, root string, df *parser.Dockerfile, ctxDir string) (*Result, int64) {
	t.Helper()
	s := testSolver(t, root)
	res, err := s.Build(context.Background(), &Request{Dockerfile: df, ContextDir: ctxDir})
	if err != nil {
		t.Fatal(err)
	}
	return res, s.stats.Reads()
}
