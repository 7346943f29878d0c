package store

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// A link hint names its layer's directory while that is extracted; a hint
// to a layer that is gone, or a damaged one, is no hint, and
// PruneLinkHints removes those only.
func TestLinkHints(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	here := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}
	gone := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("b", 64)}
	if err := os.MkdirAll(s.LayerDir(here), 0o755); err != nil {
		t.Fatal(err)
	}
	for key, id := range map[string]v1.Hash{"here": here, "gone": gone} {
		if err := s.RecordLinkHint(key, id); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(s.linkHintPath("damaged"), []byte("sha256:../../etc"), 0o600); err != nil {
		t.Fatal(err)
	}
	if dir, ok := s.LinkHint("here"); !ok || dir != s.LayerDir(here) {
		t.Errorf("LinkHint(here) = %q, %v; want %s", dir, ok, s.LayerDir(here))
	}
	for _, key := range []string{"gone", "damaged", "never"} {
		if dir, ok := s.LinkHint(key); ok {
			t.Errorf("LinkHint(%s) = %q, want none", key, dir)
		}
	}
	if n, err := s.PruneLinkHints(ctx); err != nil || n != 2 {
		t.Fatalf("PruneLinkHints = %d, %v; want 2 removed", n, err)
	}
	left, err := os.ReadDir(filepath.Dir(s.linkHintPath("here")))
	if err != nil || len(left) != 1 {
		t.Fatalf("hints left: %v, %v; want the one to an extracted layer", left, err)
	}
	if _, ok := s.LinkHint("here"); !ok {
		t.Errorf("the hint to an extracted layer was pruned")
	}
}

// TestLayerIndexes: an index is kept per blob digest and pruned when its
// blob goes; a digest that is not one names no file.
func TestLayerIndexes(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	here, _, err := s.WriteBlob(ctx, "application/octet-stream", strings.NewReader("a layer"))
	if err != nil {
		t.Fatal(err)
	}
	gone := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("b", 64)}
	for _, d := range []v1.Hash{here, gone} {
		if err := s.RecordLayerIndex(d, []byte("index of "+d.Hex)); err != nil {
			t.Fatal(err)
		}
	}
	if data, ok := s.LayerIndex(here); !ok || string(data) != "index of "+here.Hex {
		t.Errorf("LayerIndex(here) = %q, %v", data, ok)
	}
	if err := s.RecordLayerIndex(v1.Hash{Algorithm: "sha256", Hex: "../../x"}, nil); err == nil {
		t.Errorf("RecordLayerIndex of a bad digest: no error")
	}
	if n, err := s.PruneLayerIndexes(ctx); err != nil || n != 1 {
		t.Fatalf("PruneLayerIndexes = %d, %v; want 1 removed", n, err)
	}
	if _, ok := s.LayerIndex(gone); ok {
		t.Errorf("the index of a blob that is gone is left")
	}
	if _, ok := s.LayerIndex(here); !ok {
		t.Errorf("the index of a blob in the store was pruned")
	}
}
