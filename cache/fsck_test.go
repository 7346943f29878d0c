package cache

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestFsckRecords(t *testing.T) {
	ctx := context.Background()
	c, st := open(t)
	keep, lost, rotten := layer(t, st, "keep"), layer(t, st, "lost"), layer(t, st, "rotten")
	for _, r := range []*Record{
		{Key: hash("keep"), Layer: keep, Description: "COPY keep /"},
		{Key: hash("lost"), Layer: lost, Description: "COPY lost /"},
		{Key: hash("rotten"), Layer: rotten, Description: "COPY rotten /"},
		{Key: hash("meta"), Description: "ENV A=1"},
	} {
		if err := c.Put(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if rep, err := c.Fsck(ctx, false); err != nil || len(rep.Problems) != 0 {
		t.Fatalf("healthy cache: %+v, %v", rep, err)
	}
	if err := os.Remove(st.BlobPath(lost.Digest)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(st.BlobPath(rotten.Digest), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(c.dir, "records", hash("torn").Hex+".json"), []byte(`{"vers`), 0o644); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"blob " + rotten.Digest.String() + ": content has digest",
		"record " + hash("lost").String() + ": layer " + lost.Digest.String() + " is missing",
		"record " + hash("rotten").String() + ": layer " + rotten.Digest.String() + " is damaged",
		"record " + hash("torn").String() + ": unreadable record",
	}
	for _, repair := range []bool{false, true} {
		rep, err := c.Fsck(ctx, repair)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Problems) != len(want) {
			t.Fatalf("repair=%v: problems %v, want %q", repair, rep.Problems, want)
		}
		var got []string
		for _, p := range rep.Problems {
			got = append(got, p.String())
			if p.Repaired != repair {
				t.Errorf("repair=%v: %s", repair, p)
			}
		}
		sort.Strings(got)
		sort.Strings(want)
		for i, w := range want {
			if !strings.HasPrefix(got[i], w) {
				t.Errorf("repair=%v: problem %q, want %q", repair, got[i], w)
			}
		}
	}
	if rep, err := c.Fsck(ctx, false); err != nil || len(rep.Problems) != 0 {
		t.Fatalf("after repair: %+v, %v", rep, err)
	}
	for _, k := range []string{"keep", "meta"} {
		if _, err := c.Get(ctx, hash(k)); err != nil {
			t.Errorf("healthy record %s after repair: %v", k, err)
		}
	}
	if !st.HasBlob(ctx, keep.Digest) {
		t.Errorf("repair dropped a healthy layer")
	}
}
