package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/builderdev/builder/store"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// wantTags checks that every expected tag is in the index exactly once.
func wantTags(t *testing.T, idx *v1.IndexManifest, tags []string) {
	t.Helper()
	seen := map[string]int{}
	for _, d := range idx.Manifests {
		seen[d.Annotations[store.RefNameAnnotation]]++
	}
	for _, tag := range tags {
		if seen[tag] != 1 {
			t.Errorf("tag %s appears %d times", tag, seen[tag])
		}
	}
	if len(seen) != len(tags) {
		t.Errorf("index has %d tags, want %d: %v", len(seen), len(tags), seen)
	}
}

func expectedTags(workers []string) []string {
	tags := []string{"shared:latest"}
	for _, w := range workers {
		for i := 0; i < 3; i++ {
			tags = append(tags, "img-"+w+":"+strconv.Itoa(i))
		}
	}
	return tags
}

func TestConcurrentGoroutines(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	var workers []string
	for i := 0; i < 16; i++ {
		workers = append(workers, "g"+strconv.Itoa(i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(workers))
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each goroutine opens the root itself, as separate builds would.
			s, err := store.Open(root)
			if err != nil {
				errs <- err
				return
			}
			for i := 0; i < 5; i++ {
				if err := tagPair(ctx, s, w, i); err != nil {
					errs <- err
					return
				}
				// Same blob from everybody at once, and layers through LayerWriter.
				if _, _, err := s.WriteBlob(ctx, "x", strings.NewReader("same")); err != nil {
					errs <- err
					return
				}
				if err := s.Tag(ctx, "lw-"+w, testImage(s, "lw"+w, 1)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	tags := expectedTags(workers)
	for _, w := range workers {
		tags = append(tags, "lw-"+w+":latest")
	}
	wantTags(t, checkStore(t, root), tags)
	if ents, _ := os.ReadDir(filepath.Join(root, "tmp")); len(ents) != 0 {
		t.Fatalf("tmp not empty: %v", ents)
	}
}

func TestConcurrentProcesses(t *testing.T) {
	root := t.TempDir()
	if _, err := store.Open(root); err != nil {
		t.Fatal(err)
	}
	workers := []string{"p0", "p1", "p2", "p3"}
	var cmds []*errCmd
	for _, w := range workers {
		cmd := helperCmd(t, "tag", root, w)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, &errCmd{name: w, wait: cmd.Wait})
	}
	for _, c := range cmds {
		if err := c.wait(); err != nil {
			t.Fatalf("helper %s: %v", c.name, err)
		}
	}
	wantTags(t, checkStore(t, root), expectedTags(workers))
}

type errCmd struct {
	name string
	wait func() error
}

// A process killed in the middle of writing a layer, holding a lease, leaves
// a temp file and a lease file; the next Open removes the temp file, InUse
// drops the lease, and the index never saw the partial blob.
func TestCrashCleanup(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(ctx, "before", testImage(s, "before", 1)); err != nil {
		t.Fatal(err)
	}
	own, err := s.CreateTemp(ctx, "mine-")
	if err != nil {
		t.Fatal(err)
	}
	own.Close()
	foreign := filepath.Join(s.TmpDir(), "not-ours")
	if err := os.Mkdir(foreign, 0o700); err != nil {
		t.Fatal(err)
	}
	lease, err := s.Lease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	mine := mustHash("sha256:" + fmt.Sprintf("%064x", 8))
	if err := lease.Add(ctx, mine); err != nil {
		t.Fatal(err)
	}

	cmd := startHelper(t, "hang-layer", root, "")
	tmpOf := func(pid int) []string {
		var out []string
		ents, _ := os.ReadDir(s.TmpDir())
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), strconv.Itoa(pid)+"-") {
				out = append(out, e.Name())
			}
		}
		return out
	}
	if len(tmpOf(cmd.Process.Pid)) == 0 {
		t.Fatal("helper left no temp file while writing")
	}
	inUse, err := s.InUse(ctx)
	if err != nil || !inUse[mine] || !inUse[mustHash("sha256:"+fmt.Sprintf("%064x", 7))] {
		t.Fatalf("InUse with live helper = %v, %v", inUse, err)
	}
	// kill -9 while the layer is half written.
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if len(tmpOf(cmd.Process.Pid)) == 0 {
		t.Fatal("temp file vanished before Open")
	}

	if _, err := store.Open(root); err != nil {
		t.Fatal(err)
	}
	if left := tmpOf(cmd.Process.Pid); len(left) != 0 {
		t.Fatalf("dead process's temp entries kept: %v", left)
	}
	if _, err := os.Stat(own.Name()); err != nil {
		t.Fatalf("live process's temp file removed: %v", err)
	}
	if _, err := os.Stat(foreign); err != nil {
		t.Fatalf("foreign entry removed: %v", err)
	}
	inUse, err = s.InUse(ctx)
	if err != nil || !inUse[mine] || inUse[mustHash("sha256:"+fmt.Sprintf("%064x", 7))] || len(inUse) != 1 {
		t.Fatalf("InUse after helper died = %v, %v", inUse, err)
	}
	wantTags(t, checkStore(t, root), []string{"before:latest"})

	if err := lease.Release(); err != nil {
		t.Fatal(err)
	}
	if err := lease.Add(ctx, mine); err == nil {
		t.Fatal("Add after Release succeeded")
	}
	inUse, _ = s.InUse(ctx)
	if len(inUse) != 0 {
		t.Fatalf("InUse after Release = %v", inUse)
	}
	ents, _ := os.ReadDir(filepath.Join(root, "locks"))
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "lease-") {
			t.Errorf("lease file left: %s", e.Name())
		}
	}
	os.Remove(own.Name())
}

// Temp dirs of dead processes are removed after detaching mounts in them,
// never by deleting through a mount.
func TestCleanTmpUnmounts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for mounts")
	}
	root := t.TempDir()
	s, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	precious := t.TempDir()
	if err := os.WriteFile(filepath.Join(precious, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// pid 1 with a wrong start time stands for a dead process whose pid was reused.
	dead := filepath.Join(s.TmpDir(), "1-1-work")
	mnt := filepath.Join(dead, "mnt")
	if err := os.MkdirAll(mnt, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount(precious, mnt, "", syscall.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(mnt, syscall.MNT_DETACH) })
	if _, err := store.Open(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dead); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("dead temp dir kept: %v", err)
	}
	if _, err := os.Stat(filepath.Join(precious, "keep")); err != nil {
		t.Fatalf("removed through a bind mount: %v", err)
	}
}
