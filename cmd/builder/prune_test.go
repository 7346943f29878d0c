package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/pflag"

	"github.com/builderdev/builder/cache"
	"github.com/builderdev/builder/store"
)

// runSub runs one subcommand the way main's run does.
func runSub(t *testing.T, c command, root, stdin string, args ...string) (string, error) {
	t.Helper()
	g := &globalOptions{root: root}
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	g.AddFlags(fs)
	c.flags(fs)
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	var out, errw bytes.Buffer
	err := c.run(context.Background(), g, fs.Args(), stdio{in: strings.NewReader(stdin), out: &out, err: &errw})
	return out.String(), err
}

// seed puts one record with a 1000-byte layer into a new root, last used
// two days ago, and returns its key and blob digest.
func seed(t *testing.T, root string) (*cache.Cache, v1.Hash, v1.Hash) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(st.CacheDir(), st)
	if err != nil {
		t.Fatal(err)
	}
	lw, err := st.NewLayer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(lw)
	tw.WriteHeader(&tar.Header{Name: "f", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1000})
	tw.Write(bytes.Repeat([]byte{'x'}, 1000))
	tw.Close()
	l, err := lw.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := l.Digest()
	id, _ := l.DiffID()
	size, _ := l.Size()
	key, _ := v1.NewHash("sha256:" + strings.Repeat("ab", 32))
	if err := c.Put(ctx, &cache.Record{Key: key, Description: "RUN make", Layer: &cache.LayerRef{Digest: d, DiffID: id, Size: size, MediaType: "application/vnd.oci.image.layer.v1.tar+gzip"}}); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	for _, p := range []string{st.BlobPath(d), filepath.Join(st.CacheDir(), "records", key.Hex+".json")} {
		os.Chtimes(p, old, old)
	}
	return c, key, d
}

func TestPruneAndDuCommands(t *testing.T) {
	root := t.TempDir()
	c, key, blob := seed(t, root)
	out, err := runSub(t, duCommand(), root, "", "--verbose")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"RUN make", key.String()[:19], "Total:", "Reclaimable:"} {
		if !strings.Contains(out, want) {
			t.Errorf("du output lacks %q:\n%s", want, out)
		}
	}
	// Without -f a "no" cancels.
	_, err = runSub(t, pruneCommand(), root, "n\n")
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Errorf("prune answered no: %v", err)
	}
	if _, err := c.Get(context.Background(), key); err != nil {
		t.Fatalf("record gone after a cancelled prune: %v", err)
	}
	// A filter that excludes it keeps it.
	out, err = runSub(t, pruneCommand(), root, "", "-f", "--filter", "until=72h")
	if err != nil || !strings.Contains(out, "Deleted: 0 cache records") {
		t.Errorf("prune until=72h: %v\n%s", err, out)
	}
	// Get just marked it used: until=1h keeps it too; a plain prune does not.
	out, err = runSub(t, pruneCommand(), root, "y\n")
	if err != nil || !strings.Contains(out, "Deleted: 1 cache records, 1 blobs") || !strings.Contains(out, "Total reclaimed space:") {
		t.Errorf("prune: %v\n%s", err, out)
	}
	st, _ := store.Open(root)
	if st.HasBlob(context.Background(), blob) {
		t.Error("blob kept")
	}
	for _, args := range [][]string{{"-f", "--filter", "size=1"}, {"-f", "--keep-storage", "lots"}, {"-f", "extra"}} {
		if _, err := runSub(t, pruneCommand(), root, "", args...); !errors.As(err, &ee) || ee.code != 2 {
			t.Errorf("prune %v: %v", args, err)
		}
	}
}

func TestParseUntil(t *testing.T) {
	now := time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"24h", 24 * time.Hour, true},
		{"90m", 90 * time.Minute, true},
		{"2025-01-01T00:00:00Z", 24 * time.Hour, true},
		{"2025-01-01", 24 * time.Hour, true},
		{"1735689600", 24 * time.Hour, true},
		{"-1h", 0, false},
		{"soon", 0, false},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseUntil(tc.in, now)
			if (err == nil) != tc.ok || got != tc.want {
				t.Errorf("parseUntil(%q) = %v, %v", tc.in, got, err)
			}
		})
	}
}

// duReclaimable returns du's "Reclaimable:" and "Reclaimable with --all:"
// values.
func duReclaimable(t *testing.T, root string) (dangling, all string) {
	t.Helper()
	out, err := runSub(t, duCommand(), root, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		switch {
		case strings.HasPrefix(line, "Reclaimable:") && len(f) == 2:
			dangling = f[1]
		case strings.HasPrefix(line, "Reclaimable with --all:") && len(f) == 4:
			all = f[3]
		}
	}
	if dangling == "" || all == "" {
		t.Fatalf("du output lacks the reclaimable lines:\n%s", out)
	}
	return dangling, all
}

// TestDuAgreesWithPrune: du's "Reclaimable:" is what `prune -f` frees, so
// after it du shows 0; what only --all removes is shown apart.
func TestDuAgreesWithPrune(t *testing.T) {
	root := t.TempDir()
	seed(t, root)
	// A RUN cache mount: only prune --all removes it.
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(st.Root(), "cache-mounts", "0123")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "pkg"), make([]byte, 700), 0o644); err != nil {
		t.Fatal(err)
	}
	dangling, _ := duReclaimable(t, root)
	out, err := runSub(t, pruneCommand(), root, "", "-f")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "Total reclaimed space: "+dangling+"\n") {
		t.Errorf("du said %s reclaimable, prune -f:\n%s", dangling, out)
	}
	dangling, all := duReclaimable(t, root)
	if dangling != "0B" {
		t.Errorf("after prune -f, du shows %s reclaimable, want 0B", dangling)
	}
	if all != "700B" {
		t.Errorf("after prune -f, du shows %s reclaimable with --all, want the cache mount's 700B", all)
	}
	out, err = runSub(t, pruneCommand(), root, "", "-f", "--all")
	if err != nil || !strings.Contains(out, "Total reclaimed space: 700B\n") {
		t.Errorf("prune --all: %v\n%s", err, out)
	}
	if dangling, all := duReclaimable(t, root); dangling != "0B" || all != "0B" {
		t.Errorf("after prune --all, du shows %s and %s reclaimable", dangling, all)
	}
}
