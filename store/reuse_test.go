package store

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Reusing a blob marks it used now; a missing blob is not reused, so the
// caller writes it again.
func TestReuseBlob(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := s.WriteBlob(ctx, "text/plain", strings.NewReader("blob"))
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(s.BlobPath(h), old, old); err != nil {
		t.Fatal(err)
	}
	ok, err := s.ReuseBlob(ctx, h)
	if err != nil || !ok {
		t.Fatalf("ReuseBlob = %t, %v", ok, err)
	}
	fi, err := os.Stat(s.BlobPath(h))
	if err != nil || fi.ModTime().Before(time.Now().Add(-time.Minute)) {
		t.Errorf("reused blob not marked: %v %v", fi.ModTime(), err)
	}
	// Writing the same bytes again marks the existing blob too.
	os.Chtimes(s.BlobPath(h), old, old)
	if _, _, err := s.WriteBlob(ctx, "text/plain", strings.NewReader("blob")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(s.BlobPath(h)); fi.ModTime().Before(time.Now().Add(-time.Minute)) {
		t.Errorf("rewritten blob not marked")
	}
	missing := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}
	if ok, err := s.ReuseBlob(ctx, missing); err != nil || ok {
		t.Errorf("ReuseBlob(missing) = %t, %v", ok, err)
	}
	// An exclusive holder (a prune) keeps reusers waiting.
	unlock, err := s.BlobLock(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		s.ReuseBlob(ctx, h)
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("ReuseBlob did not wait for the exclusive blob lock")
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	<-done
}
