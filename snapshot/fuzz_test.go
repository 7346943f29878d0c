package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzApply applies random tars (seeded with hostile ones) and checks that
// nothing ever appears outside the root.
func FuzzApply(f *testing.F) {
	requireRoot(f)
	for _, ents := range [][]ent{
		{file("../x", "x")},
		{symlink("s", "/"), file("s/x", "x")},
		{symlink("s", "../.."), hardlink("h", "s/victim")},
		{dir("d/", 0o755), file("d/.wh..wh..opq", ""), file("d/f", "f")},
		{ent{name: "c", typ: tar.TypeChar, mode: 0o600, major: 1, minor: 3}},
	} {
		f.Add(mkTar(f, ents...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		base := t.TempDir()
		root := filepath.Join(base, "r", "root")
		if err := os.MkdirAll(root, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(base, "victim"), []byte("v"), 0o644); err != nil {
			t.Fatal(err)
		}
		// Bounded: a mutated sparse header can declare gigabytes of zeros.
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_ = Apply(ctx, root, bytes.NewReader(b))
		_, _ = NewLayers(filepath.Join(base, "r")).Ensure(ctx, diffID(b), opener(b))
		ents, err := os.ReadDir(base)
		if err != nil {
			t.Fatal(err)
		}
		if len(ents) != 2 {
			t.Fatalf("entries outside the root: %v", ents)
		}
		if ents, _ := os.ReadDir(filepath.Join(base, "r")); len(ents) > 2 {
			t.Fatalf("entries outside the root: %v", ents)
		}
		for _, e := range ents {
			if e.Name() != "r" && e.Name() != "victim" || strings.Contains(e.Name(), "/") {
				t.Fatalf("unexpected %s", e.Name())
			}
		}
		if v, _ := os.ReadFile(filepath.Join(base, "victim")); !bytes.Equal(v, []byte("v")) {
			t.Fatalf("victim changed")
		}
	})
}
