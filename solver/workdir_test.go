package solver

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestNormalizeWorkdir(t *testing.T) {
	tests := []struct{ cur, p, want string }{
		{"", "/tmp/", "/tmp/"}, // absolute: as written, trailing slash kept
		{"/", "/tmp", "/tmp"},
		{"/a", "/b//c/", "/b//c/"},
		{"", "rel", "/rel"},
		{"/tmp/", "sub/", "/tmp/sub"}, // relative: joined and cleaned
		{"/tmp/", "../x/./y", "/x/y"},
		{"app", "sub", "/app/sub"}, // a relative base WorkingDir is rooted
		{"/srv", "", "/srv"},
	}
	for _, tt := range tests {
		if got := normalizeWorkdir(tt.cur, tt.p); got != tt.want {
			t.Errorf("normalizeWorkdir(%q, %q) = %q, want %q", tt.cur, tt.p, got, tt.want)
		}
	}
}

func TestScratchWorkingDir(t *testing.T) {
	img := scratchImage(v1.Platform{OS: "linux", Architecture: "arm64"})
	if got := img.config.Config.WorkingDir; got != "/" {
		t.Errorf("scratch WorkingDir = %q, want %q", got, "/")
	}
	if img.config.OS != "linux" || img.config.Architecture != "arm64" || img.config.RootFS.Type != "layers" {
		t.Errorf("scratch config %+v", img.config)
	}
}
