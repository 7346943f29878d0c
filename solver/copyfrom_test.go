package solver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/builderdev/builder/parser"
)

// TestCopyFromStageKeyedByContent: COPY --from=stage is keyed on the files
// it copies, not on how the stage was made. Changing the stage's app (a
// file the COPY does not read) reruns the stage's step but keeps the COPY
// --from cached, and its files are answered from the stat cache; changing a
// copied file reruns it.
func TestCopyFromStageKeyedByContent(t *testing.T) {
	root, ctxDir := t.TempDir(), t.TempDir()
	writeTree(t, ctxDir, map[string]string{
		"deps/a.txt": "a", "deps/sub/b.txt": "b", "deps/sub/c.txt": "c",
		"app/main.txt": "v1",
	})
	time.Sleep(100 * time.Millisecond) // past the stat cache's racy window
	df, err := parser.Parse(strings.NewReader(
		"FROM scratch AS build\nCOPY deps /deps/\nCOPY app /app/\n" +
			"FROM scratch\nCOPY --from=build /deps /deps\n"))
	if err != nil {
		t.Fatal(err)
	}
	build := func() (*Result, int64) { t.Helper(); return buildIn(t, root, df, ctxDir) }
	cold, _ := build() // no sleep before the next build: the layer files' sums are kept though they are new
	if cold.Steps != 3 {
		t.Fatalf("cold build ran %d steps, want 3", cold.Steps)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "app", "main.txt"), []byte("v2"), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	res, reads := build()
	if res.Steps != 1 || res.Cached != 2 {
		t.Errorf("app changed: %d steps run, %d cached; want 1 (COPY app) and 2", res.Steps, res.Cached)
	}
	// The changed app file only: the stage's /deps files come from an
	// immutable snapshot whose sums the stat cache kept from the cold build.
	if reads != 1 {
		t.Errorf("app changed: %d files read, want 1", reads)
	}
	d1, _ := cold.Image.Digest()
	d2, _ := res.Image.Digest()
	if d1 != d2 {
		t.Errorf("final image %s after an app change, want the cold build's %s", d2, d1)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "deps", "sub", "b.txt"), []byte("B"), 0o644); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	res, _ = build()
	if res.Steps != 3 {
		t.Errorf("copied file changed: %d steps run, want 3 (COPY deps, COPY app above it, COPY --from)", res.Steps)
	}
	d3, _ := res.Image.Digest()
	if d3 == d1 {
		t.Errorf("a changed copied file kept the final image %s", d1)
	}
}
