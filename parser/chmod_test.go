package parser

import (
	"io/fs"
	"testing"
)

func TestParseChmod(t *testing.T) {
	tests := []struct {
		spec  string
		orig  fs.FileMode
		isDir bool
		want  fs.FileMode
	}{
		{"0755", 0o600, false, 0o755},
		{"644", 0o777, false, 0o644},
		{"4755", 0o644, false, 0o755 | fs.ModeSetuid},
		{"0", 0o644 | fs.ModeDir, true, fs.ModeDir},
		{"u=rwX,go=rX", 0o600, false, 0o644},
		{"u=rwX,go=rX", 0o700, false, 0o755},
		{"u=rwX,go=rX", 0o700 | fs.ModeDir, true, 0o755 | fs.ModeDir},
		{"+x", 0o644, false, 0o755},
		{"a-w", 0o666, false, 0o444},
		{"go-rwx", 0o777, false, 0o700},
		{"u+s,g+s", 0o755, false, 0o755 | fs.ModeSetuid | fs.ModeSetgid},
		{"+t", 0o777 | fs.ModeDir, true, 0o777 | fs.ModeDir | fs.ModeSticky},
		{"g=u", 0o640, false, 0o660},
		{"o=", 0o777, false, 0o770},
		{"u=rw,g=r,o=", 0o777, false, 0o640},
		{"u+x-w", 0o644, false, 0o544},
	}
	for _, tt := range tests {
		t.Run(tt.spec+"/"+tt.orig.String(), func(t *testing.T) {
			f, err := ParseChmod(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := f(tt.orig, tt.isDir); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "8", "0999", "10000", "u", "u=q", "x+r", "u=r,", "rwx"} {
		t.Run("bad "+bad, func(t *testing.T) {
			if _, err := ParseChmod(bad); err == nil {
				t.Errorf("ParseChmod(%q) succeeded", bad)
			}
		})
	}
}
