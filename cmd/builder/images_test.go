package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/builderdev/builder/store"
)

// TestImagesSortedAndJSON: images lists by repository then tag, whatever
// the order of tagging; --format json gives one array with the fields.
func TestImagesSortedAndJSON(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(100, 1)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	if img, err = mutate.CreatedAt(img, v1.Time{Time: created}); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"zeta:1", "alpha:2", "127.0.0.1:5000/mid:b", "alpha:1", "alpha:10"} {
		if err := st.Tag(ctx, n, img); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"127.0.0.1:5000/mid:b", "alpha:1", "alpha:10", "alpha:2", "zeta:1"}

	out, err := runSub(t, imagesCommand(), root, "")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var got []string
	for _, l := range lines[1:] {
		got = append(got, strings.Fields(l)[0])
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("images order %v, want %v:\n%s", got, want, out)
	}

	out, err = runSub(t, imagesCommand(), root, "", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("--format json is not one JSON array: %v\n%s", err, out)
	}
	digest, _ := img.Digest()
	size := imageSize(img)
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d:\n%s", len(rows), len(want), out)
	}
	for i, r := range rows {
		repo, tag, _ := strings.Cut(want[i], ":")
		if want[i] == "127.0.0.1:5000/mid:b" {
			repo, tag = "127.0.0.1:5000/mid", "b"
		}
		if r["repository"] != repo || r["tag"] != tag || r["digest"] != digest.String() ||
			r["size"] != float64(size) || r["created"] != "2024-05-06T07:08:09Z" || len(r) != 5 {
			t.Errorf("row %d = %v, want %s %s %s %d", i, r, repo, tag, digest, size)
		}
	}

	if _, err := runSub(t, imagesCommand(), root, "", "--format", "yaml"); err == nil || !strings.Contains(err.Error(), "--format") {
		t.Errorf("--format yaml: %v", err)
	}
}

func TestSplitTag(t *testing.T) {
	for in, want := range map[string][2]string{
		"app:latest":            {"app", "latest"},
		"host:5000/team/app:v1": {"host:5000/team/app", "v1"},
		"host:5000/app":         {"host:5000/app", "<none>"},
		"app@sha256:abcd":       {"app", "<none>"},
	} {
		if r, tg := splitTag(in); r != want[0] || tg != want[1] {
			t.Errorf("splitTag(%q) = %q, %q; want %v", in, r, tg, want)
		}
	}
}

// TestImagesShowsPlatforms: a tag of a multi-platform index shows its
// platforms, in the table and in JSON; an image shows "-".
func TestImagesShowsPlatforms(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(100, 1)
		if err != nil {
			t.Fatal(err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	if err := st.TagIndex(ctx, "multi", idx); err != nil {
		t.Fatal(err)
	}
	one, _ := random.Image(100, 1)
	if err := st.Tag(ctx, "single", one); err != nil {
		t.Fatal(err)
	}
	out, err := runSub(t, imagesCommand(), root, "")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasSuffix(lines[0], "PLATFORMS") || !strings.HasPrefix(lines[1], "multi:latest") ||
		!strings.HasSuffix(lines[1], " linux/amd64,linux/arm64") || !strings.HasSuffix(lines[2], " -") {
		t.Errorf("images:\n%s", out)
	}
	out, err = runSub(t, imagesCommand(), root, "", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []imageRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0].Platforms, ",") != "linux/amd64,linux/arm64" || rows[1].Platforms != nil {
		t.Errorf("json rows %+v", rows)
	}
}
