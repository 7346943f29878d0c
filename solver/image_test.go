package solver

import (
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestDateLeadingMetadata(t *testing.T) {
	base := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := base.Add(time.Hour)
	t2 := t1.Add(time.Minute)
	at := func(tm time.Time, empty bool) v1.History {
		return v1.History{Created: v1.Time{Time: tm}, EmptyLayer: empty}
	}
	h := []v1.History{
		at(base, false), at(base, true), // base image
		at(base, true), at(base, true), // ARG, ENV before the first new layer
		at(t1, false), // RUN
		at(t1, true),  // USER after it
		at(t2, false), // COPY
	}
	dateLeadingMetadata(h, 2)
	want := []time.Time{base, base, t1, t1, t1, t1, t2}
	for i, w := range want {
		if !h[i].Created.Time.Equal(w) {
			t.Errorf("history[%d] created %v, want %v", i, h[i].Created.Time, w)
		}
	}

	// No new layer: metadata keeps the base's time.
	h = []v1.History{at(base, false), at(base, true), at(base, true)}
	dateLeadingMetadata(h, 1)
	for i := range h {
		if !h[i].Created.Time.Equal(base) {
			t.Errorf("no new layer: history[%d] created %v, want %v", i, h[i].Created.Time, base)
		}
	}
}
