package store

import (
	"context"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
)

// A prune that looks at the store after Tag wrote an image's blobs but
// before index.json names them must not remove them: the tag would point
// at missing blobs.
func TestTagRacesPrune(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	removed := 0
	prune := func() {
		u, err := s.Usage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		tagged, err := s.TaggedBlobs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for h, e := range u.Blobs {
			if tagged.Blobs[h] {
				continue
			}
			ok, err := s.RemoveBlob(ctx, h, e.ModTime)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				removed++
			}
		}
	}
	if err := s.tag(ctx, "raced", img, prune); err != nil {
		t.Fatal(err)
	}
	rep, err := s.Fsck(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 0 || removed != 0 {
		t.Errorf("prune removed %d blobs of the image being tagged: %v", removed, rep.Problems)
	}
}
