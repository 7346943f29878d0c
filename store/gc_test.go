package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/store"
)

func openStore(t *testing.T) *store.Store {
	t.Helper()
	s, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func writeFile(t *testing.T, p string, n int) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, make([]byte, n), 0o644); err != nil {
		t.Fatal(err)
	}
}

func setAge(t *testing.T, p string, d time.Duration) time.Time {
	t.Helper()
	when := time.Now().Add(-d).Truncate(time.Second)
	if err := os.Chtimes(p, when, when); err != nil {
		t.Fatal(err)
	}
	return when
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func TestUsage(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	if err := s.Tag(ctx, "app", testImage(s, "u", 2)); err != nil {
		t.Fatal(err)
	}
	var blobBytes int64
	ents, _ := os.ReadDir(filepath.Dir(s.BlobPath(mustHash("sha256:" + strings.Repeat("0", 64)))))
	for _, e := range ents {
		fi, _ := e.Info()
		blobBytes += fi.Size()
	}
	// Not a blob: ignored.
	writeFile(t, filepath.Join(filepath.Dir(s.BlobPath(mustHash("sha256:"+strings.Repeat("0", 64)))), "junk"), 5)

	// An extracted layer with a hard link (counted once) and a symlink, and
	// an extraction in progress (counted in the total only).
	diffID := mustHash("sha256:" + strings.Repeat("a", 64))
	dir := s.LayerDir(diffID)
	writeFile(t, filepath.Join(dir, "usr", "f"), 500)
	if err := os.Link(filepath.Join(dir, "usr", "f"), filepath.Join(dir, "usr", "g")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("usr/f", filepath.Join(dir, "l")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(s.LayersDir(), ".tmp-x", "f"), 100)
	layerTime := setAge(t, dir, time.Hour)

	writeFile(t, filepath.Join(s.CacheMountsDir(), "go-build", "pkg"), 700)
	writeFile(t, filepath.Join(s.CacheMountsDir(), ".new-1", "pkg"), 50)
	mountTime := setAge(t, filepath.Join(s.CacheMountsDir(), "go-build"), 2*time.Hour)

	tmp, err := s.CreateTemp(ctx, "work-")
	if err != nil {
		t.Fatal(err)
	}
	tmp.Write(make([]byte, 321))
	tmp.Close()
	defer os.Remove(tmp.Name())

	u, err := s.Usage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(u.Blobs) != len(ents) || u.BlobsSize() != blobBytes {
		t.Errorf("blobs: %d of %d bytes, want %d of %d", len(u.Blobs), u.BlobsSize(), len(ents), blobBytes)
	}
	wantLayer := store.Entry{Size: 500 + int64(len("usr/f")), ModTime: layerTime}
	if len(u.Layers) != 1 || !u.Layers[diffID].ModTime.Equal(wantLayer.ModTime) || u.Layers[diffID].Size != wantLayer.Size {
		t.Errorf("layers %+v, want only %s: %+v", u.Layers, diffID, wantLayer)
	}
	if u.LayersSize != wantLayer.Size+100 {
		t.Errorf("layers size %d, want %d", u.LayersSize, wantLayer.Size+100)
	}
	m, ok := u.CacheMounts["go-build"]
	if len(u.CacheMounts) != 1 || !ok || m.Size != 700 || !m.ModTime.Equal(mountTime) {
		t.Errorf("cache mounts %+v, want only go-build", u.CacheMounts)
	}
	if u.CacheMountsSize != 750 || u.Tmp != 321 {
		t.Errorf("cache mounts size %d (want 750), tmp %d (want 321)", u.CacheMountsSize, u.Tmp)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Usage(done); !errors.Is(err, context.Canceled) {
		t.Errorf("Usage with a cancelled context = %v", err)
	}
}

func TestTaggedBlobs(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	img := testImage(s, "t", 2)
	if err := s.Tag(ctx, "app", img); err != nil {
		t.Fatal(err)
	}
	loose, _, err := s.WriteBlob(ctx, "x", strings.NewReader("loose"))
	if err != nil {
		t.Fatal(err)
	}
	tg, err := s.TaggedBlobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	md, _ := img.Digest()
	m, _ := img.Manifest()
	cf, _ := img.ConfigFile()
	want := map[v1.Hash]bool{md: true, m.Config.Digest: true}
	for _, l := range m.Layers {
		want[l.Digest] = true
	}
	if len(tg.Blobs) != len(want) || tg.Blobs[loose] {
		t.Errorf("tagged blobs %v, want %v", tg.Blobs, want)
	}
	for h := range want {
		if !tg.Blobs[h] {
			t.Errorf("tagged blob %s missing", h)
		}
	}
	if len(tg.DiffIDs) != 2 || !tg.DiffIDs[cf.RootFS.DiffIDs[0]] || !tg.DiffIDs[cf.RootFS.DiffIDs[1]] {
		t.Errorf("tagged diffIDs %v, want %v", tg.DiffIDs, cf.RootFS.DiffIDs)
	}
	if err := s.Remove(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if tg, err := s.TaggedBlobs(ctx); err != nil || len(tg.Blobs) != 0 || len(tg.DiffIDs) != 0 {
		t.Errorf("after untag: %+v, %v", tg, err)
	}
}

// RemoveBlob removes a blob only if nothing used it since the caller
// looked and no lease holds it.
func TestRemoveBlob(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	blob := func(content string) (v1.Hash, time.Time) {
		h, _, err := s.WriteBlob(ctx, "x", strings.NewReader(content))
		if err != nil {
			t.Fatal(err)
		}
		return h, setAge(t, s.BlobPath(h), 48*time.Hour)
	}
	unused, seen := blob("unused")
	if ok, err := s.RemoveBlob(ctx, unused, seen); err != nil || !ok || s.HasBlob(ctx, unused) {
		t.Errorf("unused blob: removed %v, %v; present %v", ok, err, s.HasBlob(ctx, unused))
	}
	if ok, err := s.RemoveBlob(ctx, unused, seen); err != nil || ok {
		t.Errorf("missing blob: removed %v, %v", ok, err)
	}

	reused, seen := blob("reused")
	if ok, err := s.ReuseBlob(ctx, reused); err != nil || !ok {
		t.Fatal(err)
	}
	if ok, err := s.RemoveBlob(ctx, reused, seen); err != nil || ok || !s.HasBlob(ctx, reused) {
		t.Errorf("blob reused since the scan: removed %v, %v", ok, err)
	}

	leased, seen := blob("leased")
	lease, err := s.Lease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	if err := lease.Add(ctx, leased); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.RemoveBlob(ctx, leased, seen); err != nil || ok || !s.HasBlob(ctx, leased) {
		t.Errorf("leased blob: removed %v, %v", ok, err)
	}
	if _, err := s.RemoveBlob(ctx, v1.Hash{Algorithm: "sha256", Hex: "../../index.json"}, seen); err == nil {
		t.Error("RemoveBlob of a bad digest succeeded")
	}
}

// RemoveLayer puts back a layer that a build leased and removes one that
// nothing holds, leaving no renamed copy behind.
func TestRemoveLayer(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	held := mustHash("sha256:" + strings.Repeat("b", 64))
	free := mustHash("sha256:" + strings.Repeat("c", 64))
	for _, id := range []v1.Hash{held, free} {
		writeFile(t, filepath.Join(s.LayerDir(id), "etc", "f"), 10)
	}
	lease, err := s.Lease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	if err := lease.Add(ctx, held); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.RemoveLayer(ctx, held); err != nil || ok || !exists(filepath.Join(s.LayerDir(held), "etc", "f")) {
		t.Errorf("leased layer: removed %v, %v", ok, err)
	}
	if ok, err := s.RemoveLayer(ctx, free); err != nil || !ok || exists(s.LayerDir(free)) {
		t.Errorf("free layer: removed %v, %v", ok, err)
	}
	if ok, err := s.RemoveLayer(ctx, free); err != nil || ok {
		t.Errorf("missing layer: removed %v, %v", ok, err)
	}
	ents, _ := os.ReadDir(s.LayersDir())
	if len(ents) != 1 || ents[0].Name() != held.Hex {
		t.Errorf("layers dir holds %v, want only %s", ents, held.Hex)
	}
	for _, bad := range []v1.Hash{{Algorithm: "sha256", Hex: ".."}, {Algorithm: "sha256", Hex: "../" + strings.Repeat("d", 61)}, {}} {
		if _, err := s.RemoveLayer(ctx, bad); err == nil {
			t.Errorf("RemoveLayer(%q) succeeded", bad.Hex)
		}
	}
}

func TestRemoveCacheMount(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	dir := filepath.Join(s.CacheMountsDir(), "go-build")
	writeFile(t, filepath.Join(dir, "pkg"), 10)
	writeFile(t, dir+".lock", 0)
	if ok, err := s.RemoveCacheMount(ctx, "go-build"); err != nil || !ok || exists(dir) || exists(dir+".lock") {
		t.Errorf("cache mount: removed %v, %v; dir %v lock %v", ok, err, exists(dir), exists(dir+".lock"))
	}
	if ok, err := s.RemoveCacheMount(ctx, "go-build"); err != nil || ok {
		t.Errorf("missing cache mount: removed %v, %v", ok, err)
	}
	for _, bad := range []string{"", ".", "..", ".new-1", "a/b", "../layers"} {
		if _, err := s.RemoveCacheMount(ctx, bad); err == nil {
			t.Errorf("RemoveCacheMount(%q) succeeded", bad)
		}
	}
	if ents, _ := os.ReadDir(s.CacheMountsDir()); len(ents) != 0 {
		t.Errorf("cache mounts dir holds %v", ents)
	}
}

// LockGC excludes a second GC and removes what an interrupted removal
// renamed away, and nothing else.
func TestLockGC(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	leftLayer := filepath.Join(s.LayersDir(), ".del-"+strings.Repeat("e", 64)+"-1")
	leftMount := filepath.Join(s.CacheMountsDir(), ".del-go-build-1")
	keepLayer := s.LayerDir(mustHash("sha256:" + strings.Repeat("f", 64)))
	keepMount := filepath.Join(s.CacheMountsDir(), "go-build")
	for _, d := range []string{leftLayer, leftMount, keepLayer, keepMount} {
		writeFile(t, filepath.Join(d, "f"), 1)
	}
	unlock, err := s.LockGC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if exists(leftLayer) || exists(leftMount) || !exists(keepLayer) || !exists(keepMount) {
		t.Errorf("after LockGC: leftovers %v %v (want gone), kept %v %v", exists(leftLayer), exists(leftMount), exists(keepLayer), exists(keepMount))
	}
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := s.LockGC(tctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second LockGC while held = %v, want deadline exceeded", err)
	}
	unlock()
	unlock2, err := s.LockGC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	unlock2()
}

func TestActiveLeases(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	l, err := s.ActiveLeases(ctx)
	if err != nil || l.Live || len(l.InUse) != 0 {
		t.Fatalf("no leases: %+v, %v", l, err)
	}
	lease, err := s.Lease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lease.Release()
	h := mustHash("sha256:" + strings.Repeat("1", 64))
	if err := lease.Add(ctx, h); err != nil {
		t.Fatal(err)
	}
	l, err = s.ActiveLeases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Our own start, less the margin: before now, and not before boot.
	if !l.Live || !l.InUse[h] || !l.Since.Before(time.Now().Add(-5*time.Second)) || l.Since.Before(time.Unix(1, 0)) {
		t.Errorf("with our lease: %+v", l)
	}
	// A held lease whose owner cannot be told makes everything young.
	f, err := os.OpenFile(filepath.Join(s.Root(), "locks", "lease-unknown"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	if l, err = s.ActiveLeases(ctx); err != nil || !l.Live || !l.Since.Equal(time.Unix(0, 0)) {
		t.Errorf("with an unknown owner: %+v, %v", l, err)
	}
	// Once nobody holds them, the leases are dropped.
	f.Close()
	lease.Release()
	if l, err = s.ActiveLeases(ctx); err != nil || l.Live || len(l.InUse) != 0 {
		t.Errorf("after release: %+v, %v", l, err)
	}
}

func TestTouchLayer(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	id := mustHash("sha256:" + strings.Repeat("2", 64))
	writeFile(t, filepath.Join(s.LayerDir(id), "f"), 1)
	old := setAge(t, s.LayerDir(id), 48*time.Hour)
	if err := s.TouchLayer(ctx, id); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(s.LayerDir(id))
	if err != nil || !fi.ModTime().After(old.Add(47*time.Hour)) {
		t.Errorf("layer mtime after TouchLayer = %v, %v", fi.ModTime(), err)
	}
	if err := s.TouchLayer(ctx, mustHash("sha256:"+strings.Repeat("3", 64))); err != nil {
		t.Errorf("TouchLayer of a layer not extracted = %v", err)
	}
	if err := s.TouchLayer(ctx, v1.Hash{Algorithm: "sha256", Hex: "../x"}); err == nil {
		t.Error("TouchLayer of a bad diffID succeeded")
	}
}
