package solver

import (
	"testing"

	"github.com/builderdev/builder/parser"
)

// Which cache mounts share a directory, as BuildKit keys them: by id and
// by the owner/mode base uid=, gid= and mode= create (without source=).
func TestCacheMountKeys(t *testing.T) {
	u := func(v uint32) *uint32 { return &v }
	dirOf := func(m *parser.Mount) string {
		t.Helper()
		id := m.ID
		if id == "" {
			id = m.Target
		}
		name, err := cacheMountDirName(cacheMountKey{ID: id, Owner: cacheMountOwnerOf(m)})
		if err != nil {
			t.Fatal(err)
		}
		return name
	}
	for _, tt := range []struct {
		name string
		a, b parser.Mount
		same bool
	}{
		{"same options", parser.Mount{Target: "/c", UID: u(10)}, parser.Mount{Target: "/c", UID: u(10)}, true},
		{"other uid", parser.Mount{Target: "/c", UID: u(10)}, parser.Mount{Target: "/c", UID: u(20)}, false},
		{"other gid", parser.Mount{Target: "/c", GID: u(10)}, parser.Mount{Target: "/c"}, false},
		{"mode vs default", parser.Mount{Target: "/c", Mode: u(0o700)}, parser.Mount{Target: "/c"}, false},
		{"explicit defaults are the owner base", parser.Mount{Target: "/c", UID: u(10)}, parser.Mount{Target: "/c", UID: u(10), GID: u(0), Mode: u(0o755)}, true},
		{"uid=0 is not no option", parser.Mount{Target: "/c", UID: u(0)}, parser.Mount{Target: "/c"}, false},
		{"one id at two targets", parser.Mount{Target: "/a", ID: "x", UID: u(10)}, parser.Mount{Target: "/b", ID: "x", UID: u(10)}, true},
		{"other ids", parser.Mount{Target: "/c", ID: "x"}, parser.Mount{Target: "/c", ID: "y"}, false},
		{"source= ignores the owner", parser.Mount{Target: "/c", From: "s", Source: "/d", UID: u(10)}, parser.Mount{Target: "/c", From: "s", Source: "/d"}, true},
		{"source=/ keeps it", parser.Mount{Target: "/c", Source: "/", UID: u(10)}, parser.Mount{Target: "/c", Source: "/"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := dirOf(&tt.a) == dirOf(&tt.b); got != tt.same {
				t.Errorf("same cache = %t, want %t", got, tt.same)
			}
		})
	}
}
