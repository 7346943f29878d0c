package cache

import (
	"context"
	"errors"
	"testing"
	"time"
)

// A Get between Prune's scan and its removals keeps the blob it returned:
// Prune sees the blob marked since the scan and leaves it, even with no
// build lease anywhere yet.
func TestGetDuringPruneKeepsBlob(t *testing.T) {
	ctx := context.Background()
	c, st := open(t)
	l := layer(t, st, "a")
	key := hash("k")
	if err := c.Put(ctx, &Record{Key: key, Layer: l}); err != nil {
		t.Fatal(err)
	}
	age(t, 48*time.Hour, c.recordPath(key), st.BlobPath(l.Digest))

	inv, err := c.scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := c.pruneRoots(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, key); err != nil { // a build hits it now
		t.Fatal(err)
	}
	rep, err := newPlan(inv, rs, PruneOptions{All: true}, time.Now()).run(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	if !st.HasBlob(ctx, l.Digest) || rep.Blobs != 0 {
		t.Errorf("blob served by Get removed (report %+v)", rep)
	}
	if rep.Records != 1 {
		t.Errorf("records removed = %d, want 1", rep.Records)
	}
	// With nothing using it any more, the next prune takes it.
	age(t, 48*time.Hour, st.BlobPath(l.Digest))
	rep, err = c.Prune(ctx, PruneOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.HasBlob(ctx, l.Digest) || rep.Blobs != 1 {
		t.Errorf("second prune: blob present=%v, report %+v", st.HasBlob(ctx, l.Digest), rep)
	}
	if _, err := c.Get(ctx, key); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after prune: %v", err)
	}
}

// Get waits while a prune holds the blob lock.
func TestGetWaitsForBlobLock(t *testing.T) {
	ctx := context.Background()
	c, st := open(t)
	key := hash("k")
	if err := c.Put(ctx, &Record{Key: key, Layer: layer(t, st, "a")}); err != nil {
		t.Fatal(err)
	}
	unlock, err := st.BlobLock(ctx, true) // as a prune removing a blob holds it
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Get(ctx, key)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("Get returned (%v) while the blob lock was held", err)
	case <-time.After(200 * time.Millisecond):
	}
	unlock()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Get still blocked after unlock")
	}
}
