package snapshot

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestAdopt: a directory holding a layer's files becomes that layer's
// extracted directory by a rename, Ensure then uses it without opening the
// tar, and a layer already in place is kept.
func TestAdopt(t *testing.T) {
	base := t.TempDir()
	layers := NewLayers(filepath.Join(base, "layers"))
	b := mkTar(t, dir("etc/", 0o755), file("etc/x", "x"))
	up := filepath.Join(base, "upper")
	if err := os.MkdirAll(filepath.Join(up, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(up, "etc", "x"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	moved, err := layers.Adopt(diffID(b), up)
	if err != nil || !moved {
		t.Fatalf("Adopt = %v, %v; want moved", moved, err)
	}
	if _, err := os.Lstat(up); !os.IsNotExist(err) {
		t.Errorf("upper dir still there after the move: %v", err)
	}
	opened := false
	_, err = layers.Ensure(context.Background(), diffID(b), func() (io.ReadCloser, error) {
		opened = true
		return opener(b)()
	})
	if err != nil || opened {
		t.Fatalf("Ensure after Adopt: opened the tar %v, %v", opened, err)
	}
	if data, err := os.ReadFile(filepath.Join(layers.Dir(diffID(b)), "etc", "x")); err != nil || string(data) != "x" {
		t.Fatalf("adopted layer has etc/x = %q, %v", data, err)
	}
	// A second directory for the same layer is not moved: the first stays.
	other := filepath.Join(base, "other")
	if err := os.Mkdir(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if moved, err := layers.Adopt(diffID(b), other); err != nil || moved {
		t.Fatalf("Adopt of a layer in place = %v, %v; want not moved", moved, err)
	}
	if _, err := os.Lstat(other); err != nil {
		t.Errorf("the second directory was touched: %v", err)
	}
	if _, err := layers.Adopt(v1.Hash{}, other); err == nil {
		t.Error("Adopt accepted an empty diffID")
	}
}
