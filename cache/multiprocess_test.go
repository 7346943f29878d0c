package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/store"
)

// Environment of the re-executed test binary (see TestMultiProcessChild).
const (
	mpRootEnv = "BUILDER_CACHE_MP_ROOT"
	mpIDEnv   = "BUILDER_CACHE_MP_ID"
	mpKeys    = 8
	mpRounds  = 15
)

// TestMultiProcess runs 8 processes on one root at once: seven behave like
// builds (look a key up; on a hit lease its layer and require the blob; on
// a miss write the layer, lease it and Put a record) and one prunes in a
// loop. Every record they see must be whole and its blob present, and the
// root must hold only whole records and no temp files afterwards.
func TestMultiProcess(t *testing.T) {
	if os.Getenv(mpRootEnv) != "" {
		t.Skip("child process")
	}
	root := t.TempDir()
	seed, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	// Records of an earlier build, two days old: the pruner may take them
	// while the builders hit them, but never from under a builder.
	sc, err := Open(seed.CacheDir(), seed)
	if err != nil {
		t.Fatal(err)
	}
	for k := range mpKeys {
		if err := sc.Put(context.Background(), mpRecord(t, seed, k, "seed")); err != nil {
			t.Fatal(err)
		}
	}
	filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err == nil {
			age(t, 48*time.Hour, p)
		}
		return err
	})
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	outs := make([][]byte, 9)
	errs := make([]error, 9)
	for i := range 9 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(exe, "-test.run=^TestMultiProcessChild$", "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), mpRootEnv+"="+root, mpIDEnv+"="+strconv.Itoa(i))
			outs[i], errs[i] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	t.Logf("pruner: %s", outs[0])
	for i := range 9 {
		if errs[i] != nil || !strings.Contains(string(outs[i]), "--- PASS: TestMultiProcessChild") {
			t.Errorf("process %d: %v\n%s", i, errs[i], outs[i])
		}
	}

	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(st.CacheDir(), st)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for k := range mpKeys {
		rec, err := c.Get(ctx, mpKey(k))
		if errors.Is(err, ErrNotFound) {
			continue // the pruner may have had the last word
		}
		if err != nil {
			t.Fatalf("key %d: %v", k, err)
		}
		if err := checkMPRecord(st, rec, k); err != nil {
			t.Errorf("key %d: %v", k, err)
		}
	}
	recs, err := os.ReadDir(filepath.Join(st.CacheDir(), "records"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range recs {
		data, err := os.ReadFile(filepath.Join(st.CacheDir(), "records", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var r Record
		if err := json.Unmarshal(data, &r); err != nil || r.Key.Hex+".json" != e.Name() {
			t.Errorf("record file %s is not a whole record (%v): %q", e.Name(), err, data)
		}
	}
	if left, _ := os.ReadDir(st.TmpDir()); len(left) != 0 {
		t.Errorf("temp entries left: %v", left)
	}
	leases, _ := filepath.Glob(filepath.Join(root, "locks", "lease-*"))
	if len(leases) != 0 {
		t.Errorf("lease files left: %v", leases)
	}
}

func mpKey(k int) v1.Hash { return hash("multiprocess-" + strconv.Itoa(k)) }

// checkMPRecord checks that rec is the record a child writes for key k
// and that its blob is in the store.
func checkMPRecord(st *store.Store, rec *Record, k int) error {
	if rec.Key != mpKey(k) {
		return fmt.Errorf("record of key %s served for %s", rec.Key, mpKey(k))
	}
	want := fmt.Sprintf("RUN step %d", k)
	if rec.Description != want || rec.History.CreatedBy != want || rec.Inputs["writer"] == "" {
		return fmt.Errorf("record mixes writers or is partial: %+v", rec)
	}
	if rec.Layer == nil {
		return errors.New("record without its layer")
	}
	if !st.HasBlob(context.Background(), rec.Layer.Digest) {
		return fmt.Errorf("record served with its blob %s missing", rec.Layer.Digest)
	}
	return nil
}

// mpRecord writes the layer of step k and returns its record by writer.
func mpRecord(t *testing.T, st *store.Store, k int, writer string) *Record {
	l := layer(t, st, fmt.Sprintf("step%d", k))
	text := fmt.Sprintf("RUN step %d", k)
	return &Record{Key: mpKey(k), Parent: hash("base").String(), Description: text, Layer: l,
		History: v1.History{CreatedBy: text}, Inputs: map[string]string{"writer": writer}}
}

// TestMultiProcessChild is one process of TestMultiProcess.
func TestMultiProcessChild(t *testing.T) {
	root := os.Getenv(mpRootEnv)
	if root == "" {
		t.Skip("run by TestMultiProcess")
	}
	id, _ := strconv.Atoi(os.Getenv(mpIDEnv))
	ctx := context.Background()
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(st.CacheDir(), st)
	if err != nil {
		t.Fatal(err)
	}
	if id == 0 {
		var pruned PruneReport
		for range mpRounds * 2 {
			rep, err := c.Prune(ctx, PruneOptions{All: true})
			if err != nil {
				t.Fatal(err)
			}
			pruned.Records += rep.Records
			pruned.Blobs += rep.Blobs
			if _, err := c.DiskUsage(ctx); err != nil {
				t.Fatal(err)
			}
		}
		t.Logf("pruned %d records and %d blobs", pruned.Records, pruned.Blobs)
		return
	}
	lease, err := st.Lease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	for round := range mpRounds {
		for i := range mpKeys {
			k := (i + id + round) % mpKeys
			rec, err := c.Get(ctx, mpKey(k))
			switch {
			case err == nil:
				// What the solver does on a hit: lease, then use the blob.
				if err := lease.Add(ctx, rec.Layer.Digest, rec.Layer.DiffID); err != nil {
					t.Fatal(err)
				}
				if err := checkMPRecord(st, rec, k); err != nil {
					t.Fatal(err)
				}
			case errors.Is(err, ErrNotFound):
				rec := mpRecord(t, st, k, strconv.Itoa(id))
				if err := lease.Add(ctx, rec.Layer.Digest, rec.Layer.DiffID); err != nil {
					t.Fatal(err)
				}
				if err := c.Put(ctx, rec); err != nil {
					t.Fatal(err)
				}
			default:
				t.Fatal(err)
			}
			if prev, err := c.Previous(ctx, hash("base"), fmt.Sprintf("RUN step %d", k)); err == nil {
				if prev.Key != mpKey(k) {
					t.Fatalf("Previous of step %d gave key %s", k, prev.Key)
				}
			} else if !errors.Is(err, ErrNotFound) {
				t.Fatal(err)
			}
		}
	}
}
