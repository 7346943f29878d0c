package cpulimit

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestNewDefaultsToNumCPU(t *testing.T) {
	if got := New(0).Size(); got != runtime.NumCPU() {
		t.Errorf("New(0).Size() = %d, want NumCPU %d", got, runtime.NumCPU())
	}
	if got := New(3).Size(); got != 3 {
		t.Errorf("New(3).Size() = %d", got)
	}
	var nilL *Limiter
	if nilL.Size() != 0 {
		t.Error("nil limiter has a size")
	}
	release, err := nilL.Acquire(context.Background(), 5)
	if err != nil {
		t.Fatal(err)
	}
	release()
}

// TestBound: never more than Size slots are held, whatever the weights.
func TestBound(t *testing.T) {
	l := New(3)
	var held, peak atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			release, err := l.Acquire(context.Background(), w)
			if err != nil {
				t.Error(err)
				return
			}
			eff := int64(min(max(w, 1), 3))
			n := held.Add(eff)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			held.Add(-eff)
			release()
			release() // twice is harmless
		}(i % 5)
	}
	wg.Wait()
	if p := peak.Load(); p > 3 || p < 1 {
		t.Errorf("peak slots held = %d, want 1..3", p)
	}
}

// TestAcquireHonoursContext: a full limiter makes Acquire wait, and a done
// context ends the wait with its error.
func TestAcquireHonoursContext(t *testing.T) {
	l := New(1)
	release, err := l.Acquire(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Acquire(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire on a full limiter = %v, want the deadline", err)
	}
	release()
	ran := false
	if err := l.Do(context.Background(), func() error { ran = true; return nil }); err != nil || !ran {
		t.Fatalf("Do after release: ran %v, %v", ran, err)
	}
}

// TestTryAcquire: it takes a free slot at once, fails without waiting
// when none is free, and a release (twice is once) frees the slot.
func TestTryAcquire(t *testing.T) {
	l := New(2)
	r1, ok := l.TryAcquire(1)
	if !ok {
		t.Fatal("TryAcquire on an empty limiter failed")
	}
	r2, ok := l.TryAcquire(1)
	if !ok {
		t.Fatal("TryAcquire of the second slot failed")
	}
	if _, ok := l.TryAcquire(1); ok {
		t.Fatal("TryAcquire on a full limiter succeeded")
	}
	r1()
	r1()
	r3, ok := l.TryAcquire(1)
	if !ok {
		t.Fatal("TryAcquire after a release failed")
	}
	if _, ok := l.TryAcquire(1); ok {
		t.Fatal("a double release freed two slots")
	}
	r2()
	r3()
	var nilLimiter *Limiter
	if release, ok := nilLimiter.TryAcquire(5); !ok {
		t.Fatal("a nil limiter refused")
	} else {
		release()
	}
}
