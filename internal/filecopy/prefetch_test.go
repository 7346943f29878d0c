package filecopy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// prefetched starts a prefetch of sources in fsys and waits for its walk
// to end (its stop would cancel it).
func prefetched(t *testing.T, fsys FS, sources []string) {
	t.Helper()
	stop := Prefetch(context.Background(), fsys, sources)
	t.Cleanup(stop)
	m := fsys.(*dirFS).reads.Load()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		m.mu.Lock()
		walking := m.walking
		m.mu.Unlock()
		if !walking {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the prefetch walk did not end")
		}
	}
}

func names(ents []fs.DirEntry) []string {
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func mustReadDir(t *testing.T, fsys FS, name string) []string {
	t.Helper()
	ents, err := fsys.ReadDir(name)
	if err != nil {
		t.Fatalf("ReadDir %s: %v", name, err)
	}
	return names(ents)
}

// TestPrefetchServesFreshReads: once the prefetch has read a directory, a
// ReadDir of it within prefetchFresh gets that read (a file removed since
// is still listed), a later one reads again; .dockerignore applies to the
// prefetch as to any read, and a directory the prefetch never read is
// read every time.
func TestPrefetchServesFreshReads(t *testing.T) {
	root := mkTree(t, f("src/a", 0o644, "a"), f("src/sub/b", 0o644, "b"), f("other/c", 0o644, "c"),
		f("ignored/d", 0o644, "d"))
	fsys := DirFS(root, []string{"ignored"})
	prefetched(t, fsys, []string{"src", "./src/sub", "ignored", "*.txt"})
	for _, p := range []string{"src/a", "src/sub/b", "other/c"} {
		if err := os.Remove(filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	if got := mustReadDir(t, fsys, "src"); !slices.Equal(got, []string{"a", "sub"}) {
		t.Errorf("fresh prefetched read of src = %v, want [a sub]", got)
	}
	if got := mustReadDir(t, fsys, "src/sub"); !slices.Equal(got, []string{"b"}) {
		t.Errorf("fresh prefetched read of src/sub = %v, want [b]", got)
	}
	if got := mustReadDir(t, fsys, "other"); len(got) != 0 {
		t.Errorf("read of other, never prefetched = %v, want it read now (empty)", got)
	}
	if _, err := fsys.ReadDir("ignored"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadDir of an ignored dir after a prefetch naming it: %v, want not found", err)
	}
	time.Sleep(prefetchFresh + 50*time.Millisecond)
	if got := mustReadDir(t, fsys, "src"); !slices.Equal(got, []string{"sub"}) {
		t.Errorf("read of src after prefetchFresh = %v, want [sub] (read again)", got)
	}
}

// TestPrefetchReadsAreCopies: a caller may sort or change what ReadDir
// returns without touching what the next caller gets.
func TestPrefetchReadsAreCopies(t *testing.T) {
	root := mkTree(t, f("a", 0o644, "a"), f("b", 0o644, "b"))
	fsys := DirFS(root, nil)
	prefetched(t, fsys, []string{"."})
	ents, err := fsys.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	ents[0], ents[1] = ents[1], ents[0]
	if got := mustReadDir(t, fsys, "."); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("second read = %v, want [a b]", got)
	}
}

// TestPrefetchedChecksum: a COPY's checksum made while the prefetch walks
// (run with -race) or after it is the one made without it, and its layer
// the same bytes.
func TestPrefetchedChecksum(t *testing.T) {
	var nodes []node
	for i := 0; i < 300; i++ {
		nodes = append(nodes, f(fmt.Sprintf("d%02d/f%03d", i%30, i), 0o644, fmt.Sprint(i)))
	}
	root := mkTree(t, nodes...)
	ctx := context.Background()
	layerOf := func(fsys FS) (string, []byte) {
		req := Request{Src: fsys, Sources: []string{"."}, DestPath: "/ctx/", Workdir: "/", ModTime: stepTime, TmpDir: t.TempDir()}
		pl, err := NewPlan(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		defer pl.Close()
		sum, err := pl.Checksum(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := pl.Write(ctx, &buf, nil); err != nil {
			t.Fatal(err)
		}
		return sum.String(), buf.Bytes()
	}
	wantSum, wantLayer := layerOf(DirFS(root, nil))
	for i := 0; i < 5; i++ {
		fsys := DirFS(root, nil)
		stop := Prefetch(ctx, fsys, []string{"."})
		var wg sync.WaitGroup
		sums := make([]string, 2)
		layers := make([][]byte, 2)
		for j := range sums {
			wg.Add(1)
			go func() { defer wg.Done(); sums[j], layers[j] = layerOf(fsys) }()
		}
		wg.Wait()
		stop()
		for j := range sums {
			if sums[j] != wantSum || !bytes.Equal(layers[j], wantLayer) {
				t.Fatalf("round %d: checksum %s (layer of %d bytes) beside the prefetch, want %s (%d bytes)",
					i, sums[j], len(layers[j]), wantSum, len(wantLayer))
			}
		}
	}
}

func TestPrefetchRoots(t *testing.T) {
	got := prefetchRoots([]string{"src/", "./src/sub", ".", "*.go", "a/[bc]", "https://example.com/x", "docs"})
	if !slices.Equal(got, []string{"."}) {
		t.Errorf("roots with . = %v, want [.]", got)
	}
	got = prefetchRoots([]string{"src/", "./src/sub", "srcs", "lib/x/../y", "*.go"})
	if !slices.Equal(got, []string{"lib/y", "src", "srcs"}) {
		t.Errorf("roots = %v, want [lib/y src srcs]", got)
	}
}

// TestWriteChecksChangedFiles: a file whose stat moved between the plan's
// checksum and its write is written only when its bytes are still the
// ones the checksum read. Rewritten with other bytes of the same size (the
// tar header's size still fits), the write fails instead of storing a
// layer that is not its key's.
func TestWriteChecksChangedFiles(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		change func(p string) error
		err    error
	}{
		{"touched, same bytes", func(p string) error {
			later := time.Now().Add(time.Hour)
			return os.Chtimes(p, later, later)
		}, nil},
		{"replaced, same bytes", func(p string) error {
			if err := os.WriteFile(p+".new", []byte("0123456789"), 0o644); err != nil {
				return err
			}
			return os.Rename(p+".new", p)
		}, nil},
		{"same size, other bytes", func(p string) error { return os.WriteFile(p, []byte("9876543210"), 0o644) }, ErrChangedDuringBuild},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := mkTree(t, f("app/f", 0o644, "0123456789"), f("app/g", 0o644, "g"))
			req := Request{Src: DirFS(root, nil), Sources: []string{"app"}, DestPath: "/app/", Workdir: "/",
				ModTime: stepTime, TmpDir: t.TempDir()}
			pl, err := NewPlan(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			defer pl.Close()
			if _, err := pl.Checksum(ctx); err != nil {
				t.Fatal(err)
			}
			if err := tc.change(filepath.Join(root, "app/f")); err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			err = pl.Write(ctx, &buf, nil)
			if !errors.Is(err, tc.err) {
				t.Fatalf("Write = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			for _, e := range readTar(t, buf.Bytes()) {
				if e.hdr.Name == "app/f" && string(e.content) != "0123456789" {
					t.Errorf("app/f in the layer = %q", e.content)
				}
			}
		})
	}
}
