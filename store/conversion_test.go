package store

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// A recorded conversion is found while its blob is there (and the blob is
// marked used); once the blob is gone the record is a miss and is dropped.
func TestConversionRecords(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Conversion(ctx, "none"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing record: %v, want ErrNotFound", err)
	}
	h, n, err := s.WriteBlob(ctx, "application/vnd.oci.image.layer.v1.tar+zstd", strings.NewReader("zstd bytes"))
	if err != nil {
		t.Fatal(err)
	}
	diffID := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}
	want := Conversion{Key: "k1", DiffID: diffID, Digest: h, Size: n, MediaType: "application/vnd.oci.image.layer.v1.tar+zstd"}
	if err := s.RecordConversion(ctx, want); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	os.Chtimes(s.BlobPath(h), old, old)
	got, err := s.Conversion(ctx, "k1")
	if err != nil || got != want {
		t.Fatalf("Conversion = %+v, %v; want %+v", got, err, want)
	}
	if fi, err := os.Stat(s.BlobPath(h)); err != nil || fi.ModTime().Before(time.Now().Add(-time.Minute)) {
		t.Errorf("reused converted blob not marked used: %v", err)
	}
	if _, err := s.Conversion(ctx, "k2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("other key: %v, want ErrNotFound", err)
	}
	if n, err := s.PruneConversions(ctx); err != nil || n != 0 {
		t.Errorf("PruneConversions with the blob there = %d, %v", n, err)
	}

	// A record of another key whose blob goes is pruned; the first, once
	// its blob is gone, is a miss.
	other := want
	other.Key = "k3"
	if err := s.RecordConversion(ctx, other); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(s.BlobPath(h)); err != nil {
		t.Fatal(err)
	}
	if n, err := s.PruneConversions(ctx); err != nil || n != 2 {
		t.Errorf("PruneConversions = %d, %v; want 2", n, err)
	}
	if _, err := s.Conversion(ctx, "k1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("record of a removed blob: %v, want ErrNotFound", err)
	}
	if ents, _ := os.ReadDir(s.ConversionsDir()); len(ents) != 0 {
		t.Errorf("records left: %v", ents)
	}
	if err := s.RecordConversion(ctx, Conversion{}); err == nil {
		t.Error("empty key accepted")
	}
}
