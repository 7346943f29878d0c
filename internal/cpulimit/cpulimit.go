package cpulimit

import (
	"context"
	"fmt"
	"runtime"

	"golang.org/x/sync/semaphore"
)

// Limiter bounds CPU-bound work to Size weighted slots. A nil *Limiter
// bounds nothing. Safe for concurrent use.
type Limiter struct {
	sem  *semaphore.Weighted
	size int
}

// New returns a limiter of n slots; n <= 0 means runtime.NumCPU().
func New(n int) *Limiter {
	if n <= 0 {
		n = runtime.NumCPU()
	}
	return &Limiter{sem: semaphore.NewWeighted(int64(n)), size: n}
}

// Size is the number of slots (0 for a nil limiter: no bound).
func (l *Limiter) Size() int {
	if l == nil {
		return 0
	}
	return l.size
}

// Acquire waits for weight slots (clamped to 1..Size) and returns the
// function that gives them back; it may be called more than once. It fails
// only when ctx ends first.
func (l *Limiter) Acquire(ctx context.Context, weight int) (release func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	w := l.clamp(weight)
	if err := l.sem.Acquire(ctx, w); err != nil {
		return nil, fmt.Errorf("wait for a CPU slot: %w", err)
	}
	return l.releaser(w), nil
}

// TryAcquire takes weight slots (clamped as by Acquire) if they are free
// now, and reports whether it did; release gives them back. A nil limiter
// always has them.
func (l *Limiter) TryAcquire(weight int) (release func(), ok bool) {
	if l == nil {
		return func() {}, true
	}
	w := l.clamp(weight)
	if !l.sem.TryAcquire(w) {
		return nil, false
	}
	return l.releaser(w), true
}

// clamp is weight within 1..Size.
func (l *Limiter) clamp(weight int) int64 { return int64(min(max(weight, 1), l.size)) }

// releaser gives w slots back on its first call only.
func (l *Limiter) releaser(w int64) func() {
	done := false
	return func() {
		if !done {
			done = true
			l.sem.Release(w)
		}
	}
}

// Do runs fn holding one slot.
func (l *Limiter) Do(ctx context.Context, fn func() error) error {
	release, err := l.Acquire(ctx, 1)
	if err != nil {
		return err
	}
	defer release()
	return fn()
}
