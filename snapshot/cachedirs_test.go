package snapshot

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestCacheDirsEnsure(t *testing.T) {
	requireRoot(t)
	c := NewCacheDirs(filepath.Join(t.TempDir(), "cache-mounts"))
	ctx := context.Background()
	var seeded int
	var mu sync.Mutex
	seed := func(ctx context.Context, dir string) error {
		mu.Lock()
		seeded++
		mu.Unlock()
		return os.WriteFile(filepath.Join(dir, "seed"), []byte("s"), 0o644)
	}
	dir, err := c.Ensure(ctx, "k", 0o750, 10, 20, seed)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o750 || st.Uid != 10 || st.Gid != 20 {
		t.Errorf("cache dir mode %o owner %d:%d, want 750 10:20", fi.Mode().Perm(), st.Uid, st.Gid)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "seed")); err != nil || string(data) != "s" {
		t.Errorf("seed file = %q, %v", data, err)
	}
	if again, err := c.Ensure(ctx, "k", 0o700, 0, 0, seed); err != nil || again != dir {
		t.Errorf("second Ensure = %s, %v; want %s", again, err, dir)
	}
	if seeded != 1 {
		t.Errorf("seeded %d times, want once", seeded)
	}

	// A failed seed leaves nothing behind: the next build tries again.
	boom := errors.New("boom")
	if _, err := c.Ensure(ctx, "bad", 0o755, 0, 0, func(context.Context, string) error { return boom }); !errors.Is(err, boom) {
		t.Errorf("failed seed: %v, want boom", err)
	}
	ents, err := os.ReadDir(filepath.Dir(dir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() != "k" {
			t.Errorf("left behind %s", e.Name())
		}
	}
}

func TestCacheDirsLock(t *testing.T) {
	c := NewCacheDirs(filepath.Join(t.TempDir(), "cache-mounts"))
	ctx := context.Background()
	unlock, err := c.Lock(ctx, "k", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Lock(ctx, "k", true); !errors.Is(err, ErrCacheBusy) {
		t.Errorf("try while held: %v, want ErrCacheBusy", err)
	}
	other, err := c.Lock(ctx, "other", true)
	if err != nil {
		t.Errorf("another name is another lock: %v", err)
	} else {
		other()
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := c.Lock(cctx, "k", false); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("wait ended by ctx: %v, want deadline exceeded", err)
	}
	got := make(chan error, 1)
	go func() {
		u, err := c.Lock(ctx, "k", false)
		if err == nil {
			u()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("took a held lock: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	unlock()
	select {
	case err := <-got:
		if err != nil {
			t.Errorf("lock after unlock: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiting lock not granted after unlock")
	}
}
