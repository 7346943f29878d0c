package layer

import (
	"strings"
	"testing"
)

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"a/b/c", true},
		{strings.Repeat("a", MaxName), true},
		{strings.Repeat("a", MaxName+1), false},
		{"d/" + strings.Repeat("b", MaxName+1) + "/f", false},
		{strings.Repeat("abcdefg/", 512), false}, // 4096 bytes
		{strings.Repeat("abcdefg/", 511), true},
	} {
		if err := CheckName(tc.name); (err == nil) != tc.ok {
			t.Errorf("CheckName(%d bytes) = %v, want ok=%v", len(tc.name), err, tc.ok)
		}
	}
}
