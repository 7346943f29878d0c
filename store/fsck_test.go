package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/builderdev/builder/internal/procowner"
)

func TestFsck(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	good, bad, gone := testImage(s, "good", 2), testImage(s, "bad", 2), testImage(s, "gone", 1)
	if err := s.Tag(ctx, "gone", gone); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(ctx, "good", good); err != nil {
		t.Fatal(err)
	}
	if err := s.Tag(ctx, "bad", bad); err != nil {
		t.Fatal(err)
	}
	// a layer extracted, and an extraction of this (live) process
	for _, d := range []string{strings.Repeat("a", 64), ".tmp-" + procowner.Tag() + "abc-1"} {
		if err := os.MkdirAll(filepath.Join(s.LayersDir(), d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := s.Fsck(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 0 || rep.Tags != 3 || rep.Blobs != 11 || rep.Layers != 1 {
		t.Fatalf("healthy store: %+v", rep)
	}

	// damage: one layer blob of "bad" rewritten, an extraction of a dead
	// process, a foreign file among the layers
	m, _ := bad.Manifest()
	victim := m.Layers[1].Digest
	if err := os.WriteFile(s.BlobPath(victim), []byte("bit rot"), 0o644); err != nil {
		t.Fatal(err)
	}
	gm0, _ := gone.Manifest()
	if err := os.Remove(s.BlobPath(gm0.Config.Digest)); err != nil {
		t.Fatal(err)
	}
	// this pid with another start time: a process that is gone
	deadTag := ".tmp-" + strconv.Itoa(os.Getpid()) + "-1-abc-2"
	for _, d := range []string{deadTag, "junk"} {
		if err := os.MkdirAll(filepath.Join(s.LayersDir(), d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	rep, err = s.Fsck(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	got := problems(rep.Problems)
	want := []string{
		"blob " + victim.String() + ": content has digest sha256:",
		"tag bad:latest: layer " + victim.String() + " is damaged",
		"tag gone:latest: config " + gm0.Config.Digest.String() + " is missing",
		"layer " + deadTag + ": extraction left by a process that is gone",
		"layer junk: not an extracted layer",
	}
	checkProblems(t, got, want)

	rep, err = s.Fsck(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	checkProblems(t, problems(rep.Problems), want)
	for _, p := range rep.Problems {
		if !p.Repaired {
			t.Errorf("not repaired: %s", p)
		}
	}
	rep, err = s.Fsck(ctx, false)
	if err != nil || len(rep.Problems) != 0 {
		t.Fatalf("after repair: %+v, %v", rep, err)
	}
	// the healthy image and what it uses stay; the broken tag went
	if _, err := s.Image(ctx, "good"); err != nil {
		t.Errorf("good image after repair: %v", err)
	}
	gm, _ := good.Manifest()
	for _, l := range gm.Layers {
		if !s.HasBlob(ctx, l.Digest) {
			t.Errorf("repair dropped %s of the healthy image", l.Digest)
		}
	}
	if !s.HasBlob(ctx, m.Layers[0].Digest) {
		t.Errorf("repair dropped the intact layer of the broken image")
	}
	if _, err := s.Image(ctx, "bad"); err == nil {
		t.Errorf("the broken tag is still there")
	}
	if _, err := os.Stat(filepath.Join(s.LayersDir(), strings.Repeat("a", 64))); err != nil {
		t.Errorf("repair dropped an extracted layer: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.LayersDir(), ".tmp-"+procowner.Tag()+"abc-1")); err != nil {
		t.Errorf("repair dropped a live extraction: %v", err)
	}
}

func problems[P interface{ String() string }](ps []P) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

func checkProblems(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("problems %q, want %q", got, want)
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || strings.HasPrefix(g, w)
		}
		if !found {
			t.Errorf("no problem %q in %q", w, got)
		}
	}
}
