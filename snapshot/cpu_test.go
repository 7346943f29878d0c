package snapshot

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/builderdev/builder/internal/cpulimit"
)

// TestExtractionTakesACPUSlot: a layer extraction waits for a slot of the
// shared CPU limiter and gives it back when done.
func TestExtractionTakesACPUSlot(t *testing.T) {
	l := cpulimit.New(1)
	layers := NewLayers(filepath.Join(t.TempDir(), "layers"), WithCPULimiter(l))
	b := mkTar(t, dir("etc/", 0o755), file("etc/x", "x"))
	release, err := l.Acquire(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := layers.Ensure(ctx, diffID(b), opener(b)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Ensure with every slot taken = %v, want it to wait until the deadline", err)
	}
	release()
	// The cancelled extraction may still be ending; a caller that shares it
	// gets its error and retries.
	for i := 0; ; i++ {
		_, err := layers.Ensure(context.Background(), diffID(b), opener(b))
		if err == nil {
			break
		}
		if i == 20 || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	r2, err := l.Acquire(context.Background(), 1)
	if err != nil {
		t.Fatalf("slot not given back after the extraction: %v", err)
	}
	r2()
}
