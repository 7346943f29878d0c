package snapshot

import (
	"slices"
	"testing"
)

// TestReleaseAtLeast: the kernel release decides whether overlay mounts
// are volatile (5.10 and later).
func TestReleaseAtLeast(t *testing.T) {
	for rel, want := range map[string]bool{
		"6.1.0-28-amd64":        true,
		"5.10.0":                true,
		"5.11.0-1-cloud":        true,
		"10.0.1":                true,
		"5.9.16":                false,
		"5.4.0-150-generic":     false,
		"4.18.0-513.el8.x86_64": false,
		"":                      false,
		"linux":                 false,
		"x5.10":                 false,
	} {
		if got := releaseAtLeast(rel, 5, 10); got != want {
			t.Errorf("releaseAtLeast(%q, 5, 10) = %v, want %v", rel, got, want)
		}
	}
	if kernelAtLeast(5, 10) && !slices.Contains(overlayOptions(), "volatile") {
		t.Errorf("overlay options %v lack volatile on this kernel", overlayOptions())
	}
}
