package solver

import (
	"context"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/builderdev/builder/cache"
	"github.com/builderdev/builder/store"
)

// events records progress events.
type events struct {
	mu  sync.Mutex
	all []Event
	c   chan Event
}

func (e *events) Report(ev Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
	if e.c != nil {
		e.c <- ev
	}
}

func TestDefaultJobsHasNoBound(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(st.CacheDir(), st)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		opts    []Option
		bounded bool
	}{
		{nil, false},
		{[]Option{WithJobs(0)}, false}, // what `builder build` passes without --jobs
		{[]Option{WithJobs(2)}, true},
	} {
		b, err := New(st, c, tt.opts...).newBuild(&Request{})
		if err != nil {
			t.Fatal(err)
		}
		if (b.sem != nil) != tt.bounded {
			t.Errorf("%d options: job slots bounded = %t, want %t", len(tt.opts), b.sem != nil, tt.bounded)
		}
	}
}

func TestJobSlotWaits(t *testing.T) {
	rec := &events{c: make(chan Event, 4)}
	b := &build{s: &Solver{reporter: rec}, sem: semaphore.NewWeighted(1)}
	ctx := context.Background()
	release, err := b.jobSlot(ctx, &vertex{num: 1, name: "[a 2/2] RUN x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.all) != 0 {
		t.Fatalf("a free slot reported %+v", rec.all)
	}
	got := make(chan error, 1)
	go func() {
		r, err := b.jobSlot(ctx, &vertex{num: 2, name: "[b 2/2] RUN y"})
		if err == nil {
			r()
		}
		got <- err
	}()
	select {
	case ev := <-rec.c:
		if ev.Status != StatusWaiting || ev.Vertex != 2 || ev.Name != "[b 2/2] RUN y" || ev.Time.IsZero() {
			t.Errorf("second step reported %+v, want waiting", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("second step did not report waiting")
	}
	select {
	case err := <-got:
		t.Fatalf("second step got a slot while the only one was taken (err %v)", err)
	case <-time.After(100 * time.Millisecond):
	}
	release()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("second step did not get the released slot")
	}

	// Cancelled while waiting: an error, the slot stays free.
	release, _ = b.jobSlot(ctx, &vertex{num: 3})
	cctx, cancel := context.WithCancel(ctx)
	go func() { <-rec.c; cancel() }()
	if _, err := b.jobSlot(cctx, &vertex{num: 4}); err == nil {
		t.Error("cancelled wait for a slot returned no error")
	}
	release()
	if !b.sem.TryAcquire(1) {
		t.Error("slot not free after the cancelled wait")
	}
}

func TestJobSlotUnbounded(t *testing.T) {
	rec := &events{}
	b := &build{s: &Solver{reporter: rec}}
	for i := range 10 {
		if _, err := b.jobSlot(context.Background(), &vertex{num: i + 1}); err != nil {
			t.Fatal(err)
		}
	}
	if len(rec.all) != 0 {
		t.Errorf("unbounded slots reported %+v", rec.all)
	}
}
