package solver

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/builderdev/builder/cache"
	"github.com/builderdev/builder/parser"
	"github.com/builderdev/builder/store"
)

// TestWriteLayerExtracted: a layer written for a stage with a RUN ahead is
// also in place as an extracted directory, from the same bytes.
func TestWriteLayerExtracted(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(st.CacheDir(), st)
	if err != nil {
		t.Fatal(err)
	}
	b := &build{s: New(st, c), req: &Request{}}
	l, err := b.writeLayerExtracted(ctx, func(w io.Writer) error {
		tw := tar.NewWriter(w)
		body := []byte("hello")
		if err := tw.WriteHeader(&tar.Header{Name: "f", Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		if _, err := tw.Write(body); err != nil {
			return err
		}
		return tw.Close()
	})
	if err != nil {
		t.Fatal(err)
	}
	id, err := l.DiffID()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(b.s.layers.Dir(id), "f"))
	if err != nil || !bytes.Equal(data, []byte("hello")) {
		t.Fatalf("extracted layer has f = %q, %v", data, err)
	}
}

func TestHasRun(t *testing.T) {
	df, err := parser.Parse(strings.NewReader("FROM scratch\nCOPY a /a\nRUN true\nCOPY b /b\n"))
	if err != nil {
		t.Fatal(err)
	}
	insts := df.Stages[0].Instructions
	if !hasRun(insts[1:]) || hasRun(insts[2:]) {
		t.Errorf("hasRun after COPY a = %v, after RUN = %v; want true, false", hasRun(insts[1:]), hasRun(insts[2:]))
	}
}
