package parser

import "testing"

func TestChmodApplyUnix(t *testing.T) {
	tests := []struct {
		spec  string
		mode  int64
		isDir bool
		want  int64
	}{
		{"755", 0o644, false, 0o755},
		{"4755", 0o644, false, 0o4755},
		{"u+s,g+x", 0o644, false, 0o4654},
		{"a+X", 0o644, false, 0o644},
		{"a+X", 0o700, true, 0o711},
		{"go=", 0o1777, true, 0o700}, // o includes the sticky bit, as in chmod(1)
		{"o-t", 0o1777, true, 0o777},
	}
	for _, tt := range tests {
		f, err := ParseChmod(tt.spec)
		if err != nil {
			t.Fatalf("ParseChmod(%q): %v", tt.spec, err)
		}
		if got := f.ApplyUnix(tt.mode, tt.isDir); got != tt.want {
			t.Errorf("%s on %o (dir %t) = %o, want %o", tt.spec, tt.mode, tt.isDir, got, tt.want)
		}
	}
}
