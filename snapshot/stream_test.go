package snapshot

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestExtractionFromTheWrittenBytes: a layer extracted while its tar is
// written is in place after Commit (Ensure does not open the tar); an
// aborted or failed one leaves nothing behind.
func TestExtractionFromTheWrittenBytes(t *testing.T) {
	ctx := context.Background()
	layers := NewLayers(filepath.Join(t.TempDir(), "layers"))
	b := mkTar(t, dir("app/", 0o755), file("app/x", "x"), symlink("app/l", "x"))
	e, err := layers.NewExtraction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := e.Commit(diffID(b)); err != nil {
		t.Fatal(err)
	}
	opened := false
	d, err := layers.Ensure(ctx, diffID(b), func() (io.ReadCloser, error) { opened = true; return opener(b)() })
	if err != nil || opened {
		t.Fatalf("Ensure after the extraction: opened the tar %v, %v", opened, err)
	}
	if target, err := os.Readlink(filepath.Join(d, "app", "l")); err != nil || target != "x" {
		t.Errorf("app/l -> %q, %v", target, err)
	}
	if data, err := os.ReadFile(filepath.Join(d, "app", "x")); err != nil || string(data) != "x" {
		t.Errorf("app/x = %q, %v", data, err)
	}

	e, err = layers.NewExtraction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Write(b[:700]); err != nil {
		t.Fatal(err)
	}
	e.Abort()
	bad, err := layers.NewExtraction(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = bad.Write(mkTar(t, file("../escape", "x")))
	if err := bad.Commit(diffID(nil)); err == nil {
		t.Error("Commit of a hostile tar succeeded")
	}
	ents, err := os.ReadDir(filepath.Join(filepath.Dir(d)))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("layers dir holds %v, want only the committed layer", names)
	}
}
