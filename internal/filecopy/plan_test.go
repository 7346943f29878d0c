package filecopy

import (
	"bytes"
	"context"
	"io/fs"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// walkCountingFS counts the calls that walk a source.
type walkCountingFS struct {
	FS
	lstats, readDirs atomic.Int64
}

func (c *walkCountingFS) Lstat(name string) (fs.FileInfo, error) {
	c.lstats.Add(1)
	return c.FS.Lstat(name)
}

func (c *walkCountingFS) ReadDir(name string) ([]fs.DirEntry, error) {
	c.readDirs.Add(1)
	return c.FS.ReadDir(name)
}

// A COPY whose key missed the cache walks its source once: the plan's
// checksum and its layer come from the same walk, and the layer is the one
// Copy writes.
func TestPlanWalksOnce(t *testing.T) {
	var nodes []node
	for i := 0; i < 300; i++ {
		nodes = append(nodes, f("src/d"+itoa(i%7)+"/f"+itoa(i), 0o644, "content "+itoa(i)))
	}
	nodes = append(nodes, l("src/link", "d0/f0"), h("src/d1/hard", "src/d1/f1"))
	dir := mkTree(t, nodes...)
	src := &walkCountingFS{FS: DirFS(dir, nil)}
	req := Request{Src: src, Sources: []string{"src"}, DestPath: "/app/", ModTime: stepTime, TmpDir: t.TempDir()}
	ctx := context.Background()

	pl, err := NewPlan(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	sum, files, err := pl.ChecksumFiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	walked := src.lstats.Load() + src.readDirs.Load()
	if walked == 0 {
		t.Fatal("the plan did not walk the source")
	}
	var got bytes.Buffer
	var onFile []string
	if err := pl.Write(ctx, &got, func(tarName string, _ FS, srcName string) {
		onFile = append(onFile, tarName+" "+srcName)
	}); err != nil {
		t.Fatal(err)
	}
	if again := src.lstats.Load() + src.readDirs.Load(); again != walked {
		t.Errorf("writing the layer walked the source again: %d lookups after the checksum's %d", again-walked, walked)
	}
	if len(onFile) != 300 { // the regular files, not the symlink or the hard link
		t.Errorf("onFile called for %d files, want 300", len(onFile))
	}

	want, err := runCopy(t, Request{Src: DirFS(dir, nil), Sources: []string{"src"}, DestPath: "/app/"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(strs(want), strs(readTar(t, got.Bytes()))); d != "" {
		t.Errorf("the plan's layer differs from Copy's (-Copy +plan):\n%s", d)
	}
	plain, err := Checksum(ctx, Request{Src: DirFS(dir, nil), Sources: []string{"src"}, DestPath: "/app/", ModTime: stepTime})
	if err != nil {
		t.Fatal(err)
	}
	if plain != sum || len(files) != len(want) {
		t.Errorf("plan checksum %v (%d files), Checksum %v (%d entries)", sum, len(files), plain, len(want))
	}
}
