package filecopy

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/builderdev/builder/internal/cpulimit"
)

// TestHashingTakesACPUSlot: hashing context files for a COPY's key waits
// for a slot of the shared CPU limiter; a stat cache hit needs none.
func TestHashingTakesACPUSlot(t *testing.T) {
	dir := mkTree(t, d("ctx", 0o755), f("ctx/a", 0o644, "a"), f("ctx/b", 0o644, "b"))
	l := cpulimit.New(1)
	sc, err := OpenStatCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sc.racy = 0
	req := Request{Src: DirFS(dir, nil), Sources: []string{"ctx"}, DestPath: "/", ModTime: stepTime, CPU: l, StatCache: sc}
	release, err := l.Acquire(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := Checksum(ctx, req); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Checksum with every slot taken = %v, want it to wait until the deadline", err)
	}
	release()
	want, err := Checksum(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	// Every file is in the stat cache now: no slot is needed.
	release, err = l.Acquire(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	got, err := Checksum(context.Background(), req)
	if err != nil || got != want {
		t.Fatalf("cached Checksum = %v, %v; want %v without a slot", got, err, want)
	}
}
