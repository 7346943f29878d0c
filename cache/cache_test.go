package cache

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/store"
)

func hash(s string) v1.Hash {
	h, _, _ := v1.SHA256(bytes.NewReader([]byte(s)))
	return h
}

// layer writes a real one-file layer into st.
func layer(t *testing.T, st *store.Store, name string) *LayerRef {
	t.Helper()
	lw, err := st.NewLayer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(lw)
	tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: 1})
	tw.Write([]byte("x"))
	tw.Close()
	l, err := lw.Commit(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	d, _ := l.Digest()
	id, _ := l.DiffID()
	size, _ := l.Size()
	mt, _ := l.MediaType()
	return &LayerRef{Digest: d, DiffID: id, Size: size, MediaType: string(mt)}
}

func open(t *testing.T) (*Cache, *store.Store) {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(st.CacheDir(), st)
	if err != nil {
		t.Fatal(err)
	}
	return c, st
}

func TestPutGet(t *testing.T) {
	ctx := context.Background()
	c, st := open(t)
	if _, err := c.Get(ctx, hash("nothing")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of an unknown key: %v", err)
	}
	l := layer(t, st, "a")
	rec := &Record{Key: hash("k"), Parent: hash("p").String(), Description: "RUN x", Layer: l,
		History: v1.History{CreatedBy: "RUN x"}, Inputs: map[string]string{"env:A": "1"}}
	if err := c.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := c.Get(ctx, rec.Key)
	if err != nil {
		t.Fatal(err)
	}
	if got.Layer.Digest != l.Digest || got.History.CreatedBy != "RUN x" || got.Inputs["env:A"] != "1" || got.Created.IsZero() {
		t.Errorf("round trip: %+v", got)
	}
	prev, err := c.Previous(ctx, hash("p"), "RUN x")
	if err != nil || prev.Key != rec.Key {
		t.Errorf("Previous = %+v, %v", prev, err)
	}
	if _, err := c.Previous(ctx, hash("other"), "RUN x"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Previous on another parent: %v", err)
	}
	// A metadata-only record has no blob to check.
	meta := &Record{Key: hash("m"), History: v1.History{CreatedBy: "RUN true", EmptyLayer: true}}
	if err := c.Put(ctx, meta); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, meta.Key); err != nil {
		t.Errorf("Get of an empty-layer record: %v", err)
	}
}

// A record whose blob is gone is never served; a damaged one is a miss.
func TestMissingBlobOrDamagedRecord(t *testing.T) {
	ctx := context.Background()
	c, st := open(t)
	l := layer(t, st, "a")
	rec := &Record{Key: hash("k"), Layer: l}
	if err := c.Put(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(st.BlobPath(l.Digest)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, rec.Key); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get with the blob gone: %v", err)
	}
	if err := os.WriteFile(c.recordPath(hash("bad")), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, hash("bad")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a damaged record: %v", err)
	}
}

// Many writers of the same and different keys leave only whole records.
func TestConcurrentPuts(t *testing.T) {
	ctx := context.Background()
	c, st := open(t)
	l := layer(t, st, "a")
	var wg sync.WaitGroup
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := hash(fmt.Sprint(i % 4))
			if err := c.Put(ctx, &Record{Key: key, Layer: l, Description: "COPY a /a", Parent: hash("p").String()}); err != nil {
				t.Error(err)
			}
			if _, err := c.Get(ctx, key); err != nil && !errors.Is(err, ErrNotFound) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for i := 0; i < 4; i++ {
		if _, err := c.Get(ctx, hash(fmt.Sprint(i))); err != nil {
			t.Errorf("key %d: %v", i, err)
		}
	}
	left, _ := os.ReadDir(st.TmpDir())
	if len(left) != 0 {
		t.Errorf("temp files left: %d", len(left))
	}
}
