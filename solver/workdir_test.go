package solver

import (
	"testing"
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
