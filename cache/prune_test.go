package cache

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/builderdev/builder/store"
)

// randLayer writes a layer of one file of n random (incompressible) bytes.
func randLayer(t *testing.T, st *store.Store, name string, n int) *LayerRef {
	t.Helper()
	lw, err := st.NewLayer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, n)
	rand.Read(data)
	tw := tar.NewWriter(lw)
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(n)}); err != nil {
		t.Fatal(err)
	}
	tw.Write(data)
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

// extracted makes the extracted-layer directory of ref with one file of n bytes.
func extracted(t *testing.T, st *store.Store, diffID v1.Hash, n int) string {
	t.Helper()
	dir := st.LayerDir(diffID)
	if err := os.MkdirAll(filepath.Join(dir, "usr"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "usr", "f"), make([]byte, n), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// age sets the mtime of paths to d ago (the last use Prune sees).
func age(t *testing.T, d time.Duration, paths ...string) {
	t.Helper()
	when := time.Now().Add(-d)
	for _, p := range paths {
		if err := os.Chtimes(p, when, when); err != nil {
			t.Fatal(err)
		}
	}
}

// tagImage tags an image of the given layers in st.
func tagImage(t *testing.T, st *store.Store, name string, refs ...*LayerRef) {
	t.Helper()
	img := empty.Image
	for _, r := range refs {
		l, err := st.Layer(context.Background(), r.Digest, r.DiffID, r.Size, types.MediaType(r.MediaType))
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Tag(context.Background(), name, img); err != nil {
		t.Fatal(err)
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// fixture is a root with records A (tagged), B (leased by a test), C
// (referenced by nothing else), M (no layer), an orphan blob D and an
// orphan extracted layer E, all last used two days ago.
type fixture struct {
	c          *Cache
	st         *store.Store
	a, b, cc   *LayerRef
	d, e       *LayerRef
	recs       map[string]v1.Hash
	tagged     map[v1.Hash]bool // manifest and config of the tagged image
	mountsDir  string
	oldEnough  time.Duration
	layerPaths map[string]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	c, st := open(t)
	f := &fixture{c: c, st: st, recs: map[string]v1.Hash{}, tagged: map[v1.Hash]bool{}, layerPaths: map[string]string{}}
	f.a = randLayer(t, st, "a", 1000)
	f.b = randLayer(t, st, "b", 2000)
	f.cc = randLayer(t, st, "c", 3000)
	f.d = randLayer(t, st, "d", 4000)
	f.e = randLayer(t, st, "e", 10)
	os.Remove(st.BlobPath(f.e.Digest)) // E only exists extracted
	for name, l := range map[string]*LayerRef{"A": f.a, "B": f.b, "C": f.cc, "M": nil} {
		k := hash(name)
		f.recs[name] = k
		if err := c.Put(ctx, &Record{Key: k, Layer: l, Description: "RUN " + name}); err != nil {
			t.Fatal(err)
		}
		age(t, 48*time.Hour, c.recordPath(k))
	}
	tagImage(t, st, "app", f.a)
	img, err := st.Image(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	md, _ := img.Digest()
	cd, _ := img.ConfigName()
	f.tagged[md], f.tagged[cd] = true, true
	for name, l := range map[string]*LayerRef{"A": f.a, "B": f.b, "C": f.cc, "E": f.e} {
		f.layerPaths[name] = extracted(t, st, l.DiffID, 500)
	}
	// Everything is older than this process, so no running build of it
	// could have written it unleased.
	filepath.WalkDir(st.Root(), func(p string, _ fs.DirEntry, err error) error {
		if err == nil {
			age(t, 48*time.Hour, p)
		}
		return err
	})
	f.mountsDir = st.CacheMountsDir()
	os.MkdirAll(filepath.Join(f.mountsDir, "0123"), 0o755)
	os.WriteFile(filepath.Join(f.mountsDir, "0123", "pkg"), make([]byte, 700), 0o644)
	age(t, 48*time.Hour, filepath.Join(f.mountsDir, "0123"))
	return f
}

func TestPruneKeepsTagsAndLeases(t *testing.T) {
	ctx := context.Background()
	for _, all := range []bool{false, true} {
		t.Run(map[bool]string{false: "dangling", true: "all"}[all], func(t *testing.T) {
			f := newFixture(t)
			lease, err := f.st.Lease(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer lease.Release()
			if err := lease.Add(ctx, f.b.Digest, f.b.DiffID); err != nil {
				t.Fatal(err)
			}
			rep, err := f.c.Prune(ctx, PruneOptions{All: all})
			if err != nil {
				t.Fatal(err)
			}
			st := f.st
			blobs := map[string]bool{
				"A": st.HasBlob(ctx, f.a.Digest), "B": st.HasBlob(ctx, f.b.Digest), "C": st.HasBlob(ctx, f.cc.Digest), "D": st.HasBlob(ctx, f.d.Digest)}
			want := map[string]bool{"A": true, "B": true, "C": false, "D": false}
			if blobs["A"] != want["A"] || blobs["B"] != want["B"] || blobs["C"] || blobs["D"] {
				t.Errorf("blobs present %v, want %v", blobs, want)
			}
			for h := range f.tagged {
				if !st.HasBlob(ctx, h) {
					t.Errorf("tagged image blob %s removed", h)
				}
			}
			layers := map[string]bool{}
			for n, p := range f.layerPaths {
				layers[n] = exists(p)
			}
			if !layers["A"] || !layers["B"] || layers["C"] || layers["E"] {
				t.Errorf("extracted layers present %v, want A and B only", layers)
			}
			// Records: A and M stay without --all (A's layer is an image's,
			// M frees nothing); with --all every record goes.
			for name, k := range f.recs {
				_, err := os.Stat(f.c.recordPath(k))
				kept := err == nil
				wantKept := !all && (name == "A" || name == "M")
				if kept != wantKept {
					t.Errorf("record %s kept = %v, want %v", name, kept, wantKept)
				}
			}
			if _, err := f.c.Get(ctx, f.recs["C"]); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get of a pruned record: %v", err)
			}
			// A running build (our lease) keeps the cache mounts even with --all.
			if !exists(filepath.Join(f.mountsDir, "0123")) {
				t.Error("cache mount removed while a build runs")
			}
			wantRecs := 2
			if all {
				wantRecs = 4
			}
			if rep.Records != wantRecs || rep.Blobs != 2 || rep.Layers != 2 || rep.CacheMounts != 0 {
				t.Errorf("report %+v", rep)
			}
			if _, err := st.Image(ctx, "app"); err != nil {
				t.Errorf("tagged image after prune: %v", err)
			}
		})
	}
}

func TestPruneCacheMounts(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	mount := filepath.Join(f.mountsDir, "0123")
	if _, err := f.c.Prune(ctx, PruneOptions{}); err != nil {
		t.Fatal(err)
	}
	if !exists(mount) {
		t.Fatal("cache mount removed without --all")
	}
	rep, err := f.c.Prune(ctx, PruneOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if exists(mount) || rep.CacheMounts != 1 {
		t.Errorf("cache mount still there (report %+v)", rep)
	}
	// Nothing tagged keeps A's layer once its record is gone? It is tagged.
	if !f.st.HasBlob(ctx, f.a.Digest) {
		t.Error("tagged blob removed")
	}
	// A second prune finds nothing more.
	rep, err = f.c.Prune(ctx, PruneOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep != (PruneReport{}) {
		t.Errorf("second prune removed %+v", rep)
	}
}

// Records go least recently used first, and only until KeepStorage holds;
// Get counts as a use.
func TestPruneLRUKeepStorage(t *testing.T) {
	ctx := context.Background()
	c, st := open(t)
	var refs []*LayerRef
	var keys []v1.Hash
	for i, name := range []string{"old", "mid", "new"} {
		l := randLayer(t, st, name, 100_000)
		refs = append(refs, l)
		k := hash(name)
		keys = append(keys, k)
		if err := c.Put(ctx, &Record{Key: k, Layer: l}); err != nil {
			t.Fatal(err)
		}
		age(t, time.Duration(3-i)*time.Hour, c.recordPath(k))
		age(t, 48*time.Hour, st.BlobPath(l.Digest))
	}
	// "old" is used now: "mid" becomes the least recently used.
	if _, err := c.Get(ctx, keys[0]); err != nil {
		t.Fatal(err)
	}
	age(t, 48*time.Hour, st.BlobPath(refs[0].Digest)) // Get freshened it
	u, err := c.DiskUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	total := u.Records + u.Blobs + u.Layers + u.CacheMounts
	// Room for a bit less than all: exactly one record and its blob go.
	rep, err := c.Prune(ctx, PruneOptions{All: true, KeepStorage: total - 1})
	if err != nil {
		t.Fatal(err)
	}
	gone := func(i int) bool { return !st.HasBlob(ctx, refs[i].Digest) }
	if rep.Records != 1 || rep.Blobs != 1 || !gone(1) || gone(0) || gone(2) {
		t.Fatalf("first prune: %+v; gone old=%v mid=%v new=%v", rep, gone(0), gone(1), gone(2))
	}
	// Keep about one layer's worth: "new" (older use than "old") goes next.
	rep, err = c.Prune(ctx, PruneOptions{All: true, KeepStorage: 150_000})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 1 || !gone(2) || gone(0) {
		t.Fatalf("second prune: %+v; gone old=%v new=%v", rep, gone(0), gone(2))
	}
	if _, err := c.Get(ctx, keys[0]); err != nil {
		t.Errorf("most recently used record: %v", err)
	}
	// Already under the limit: nothing goes.
	rep, err = c.Prune(ctx, PruneOptions{All: true, KeepStorage: 1 << 30})
	if err != nil || rep != (PruneReport{}) {
		t.Errorf("prune under the limit: %+v, %v", rep, err)
	}
}

func TestPruneUntil(t *testing.T) {
	ctx := context.Background()
	c, st := open(t)
	oldL := randLayer(t, st, "old", 1000)
	newL := randLayer(t, st, "new", 1000)
	oldOrphan := randLayer(t, st, "o1", 1000)
	newOrphan := randLayer(t, st, "o2", 1000)
	for name, l := range map[string]*LayerRef{"old": oldL, "new": newL} {
		if err := c.Put(ctx, &Record{Key: hash(name), Layer: l}); err != nil {
			t.Fatal(err)
		}
	}
	age(t, 48*time.Hour, c.recordPath(hash("old")), st.BlobPath(oldL.Digest), st.BlobPath(newL.Digest), st.BlobPath(oldOrphan.Digest))
	age(t, time.Hour, c.recordPath(hash("new")), st.BlobPath(newOrphan.Digest))
	rep, err := c.Prune(ctx, PruneOptions{All: true, Until: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if st.HasBlob(ctx, oldL.Digest) || st.HasBlob(ctx, oldOrphan.Digest) || !st.HasBlob(ctx, newL.Digest) || !st.HasBlob(ctx, newOrphan.Digest) {
		t.Errorf("until=24h: old %v old orphan %v new %v new orphan %v (want false false true true)",
			st.HasBlob(ctx, oldL.Digest), st.HasBlob(ctx, oldOrphan.Digest), st.HasBlob(ctx, newL.Digest), st.HasBlob(ctx, newOrphan.Digest))
	}
	if _, err := c.Get(ctx, hash("new")); err != nil {
		t.Errorf("recent record: %v", err)
	}
	if rep.Records != 1 || rep.Blobs != 2 {
		t.Errorf("report %+v", rep)
	}
}

// sumFiles adds the sizes of the regular files under dir.
func sumFiles(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			fi, _ := d.Info()
			n += fi.Size()
		}
		return nil
	})
	return n
}

func TestDiskUsage(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	st := f.st
	tmp, err := st.CreateTemp(ctx, "work-")
	if err != nil {
		t.Fatal(err)
	}
	tmp.Write(make([]byte, 321))
	tmp.Close()
	defer os.Remove(tmp.Name())
	u, err := f.c.DiskUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := Usage{
		Records:     sumFiles(t, st.CacheDir()),
		Blobs:       sumFiles(t, filepath.Join(st.OCIDir(), "blobs")),
		Layers:      sumFiles(t, st.LayersDir()),
		CacheMounts: sumFiles(t, f.mountsDir),
		Tmp:         sumFiles(t, st.TmpDir()),
	}
	if u.Records != want.Records || u.Blobs != want.Blobs || u.Layers != want.Layers || u.CacheMounts != want.CacheMounts || u.Tmp != want.Tmp {
		t.Errorf("usage %+v\nwant   %+v", u, want)
	}
	if u.Layers != 4*500 || u.CacheMounts != 700 || u.Tmp != 321 {
		t.Errorf("layers %d, mounts %d, tmp %d", u.Layers, u.CacheMounts, u.Tmp)
	}
	if len(u.Entries) != 4 {
		t.Errorf("entries: %+v", u.Entries)
	}
	for _, e := range u.Entries {
		if e.Key == f.recs["A"] && !e.Shared {
			t.Errorf("record A's layer is tagged: %+v", e)
		}
		if e.Key == f.recs["C"] && (e.Shared || e.Size <= f.cc.Size) {
			t.Errorf("record C owns its blob and layer: %+v", e)
		}
	}
	// Reclaimable is what a full prune frees.
	rep, err := f.c.Prune(ctx, PruneOptions{All: true})
	if err != nil {
		t.Fatal(err)
	}
	if u.Reclaimable != rep.Freed || rep.Freed == 0 {
		t.Errorf("reclaimable %d, prune freed %d", u.Reclaimable, rep.Freed)
	}
	after, err := f.c.DiskUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Reclaimable != 0 || after.Total() >= u.Total() {
		t.Errorf("after prune: %+v", after)
	}
}

// ReclaimableDangling is what a prune without All frees; after it, it is 0
// while Reclaimable still counts what only All removes.
func TestDiskUsageDangling(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u, err := f.c.DiskUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if u.ReclaimableDangling == 0 || u.ReclaimableDangling >= u.Reclaimable {
		t.Errorf("reclaimable %d, dangling %d", u.Reclaimable, u.ReclaimableDangling)
	}
	rep, err := f.c.Prune(ctx, PruneOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Freed != u.ReclaimableDangling {
		t.Errorf("du: %d reclaimable without All, prune freed %d", u.ReclaimableDangling, rep.Freed)
	}
	after, err := f.c.DiskUsage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.ReclaimableDangling != 0 {
		t.Errorf("after prune: %d reclaimable without All", after.ReclaimableDangling)
	}
	if after.Reclaimable != u.Reclaimable-rep.Freed {
		t.Errorf("after prune: %d reclaimable with All, want %d", after.Reclaimable, u.Reclaimable-rep.Freed)
	}
}

// While a build runs, blobs it may have written but not yet leased (newer
// than its start) stay; once it ends they go.
func TestPruneSparesFreshBlobsDuringBuild(t *testing.T) {
	ctx := context.Background()
	c, st := open(t)
	lease, err := st.Lease(ctx)
	if err != nil {
		t.Fatal(err)
	}
	fresh := randLayer(t, st, "fresh", 100)
	stale := randLayer(t, st, "stale", 100)
	age(t, 48*time.Hour, st.BlobPath(stale.Digest))
	if _, err := c.Prune(ctx, PruneOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	if !st.HasBlob(ctx, fresh.Digest) || st.HasBlob(ctx, stale.Digest) {
		t.Errorf("during a build: fresh kept %v (want true), stale kept %v (want false)", st.HasBlob(ctx, fresh.Digest), st.HasBlob(ctx, stale.Digest))
	}
	lease.Release()
	if _, err := c.Prune(ctx, PruneOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	if st.HasBlob(ctx, fresh.Digest) {
		t.Error("unreferenced blob kept after the build ended")
	}
}

// Concurrent prunes of one root take turns and leave it consistent: no
// errors, the tagged image intact, the unused layer gone.
func TestConcurrentPrunes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() {
			_, err := f.c.Prune(ctx, PruneOptions{All: i%2 == 0})
			errs <- err
		}()
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if _, err := f.st.Image(ctx, "app"); err != nil || !f.st.HasBlob(ctx, f.a.Digest) {
		t.Errorf("tagged image after concurrent prunes: %v", err)
	}
	if f.st.HasBlob(ctx, f.cc.Digest) || exists(f.layerPaths["C"]) {
		t.Error("unused blob or layer left")
	}
}
