package user

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type dirFS string

func (d dirFS) Open(name string) (io.ReadCloser, error) {
	return os.Open(filepath.Join(string(d), filepath.FromSlash(name)))
}

func writeRoot(t *testing.T, passwd, group string) FS {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if passwd != "" {
		if err := os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte(passwd), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if group != "" {
		if err := os.WriteFile(filepath.Join(dir, "etc/group"), []byte(group), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dirFS(dir)
}

const passwd = `root:x:0:0:root:/root:/bin/sh
# comment
user:x:1000:1000:User:/home/user:/bin/sh
nohome:x:1001:1001::
svc:x:999:50:svc:/srv:/bin/false
`
const group = `root:x:0:
wheel:x:10:user,other
users:x:100:other
user:x:1000:
staff:x:50:svc
docker:x:998:user
`

func TestResolve(t *testing.T) {
	root := writeRoot(t, passwd, group)
	empty := writeRoot(t, "", "")
	tests := []struct {
		name, spec string
		fsys       FS
		want       Identity
		wantErr    string
	}{
		{"root by name", "root", root, Identity{0, 0, "/root", nil}, ""},
		{"name gets supplementary groups", "user", root, Identity{1000, 1000, "/home/user", []uint32{10, 998}}, ""},
		{"uid found in passwd", "1000", root, Identity{1000, 1000, "/home/user", []uint32{10, 998}}, ""},
		{"uid not in passwd", "4242", root, Identity{4242, 0, "/", nil}, ""},
		{"uid:gid", "1000:42", root, Identity{1000, 42, "/home/user", nil}, ""},
		{"name:group", "user:staff", root, Identity{1000, 50, "/home/user", nil}, ""},
		{"uid:group", "4242:wheel", root, Identity{4242, 10, "/", nil}, ""},
		{"name:gid", "svc:7", root, Identity{999, 7, "/srv", nil}, ""},
		{"empty home defaults to /", "nohome", root, Identity{1001, 1001, "/", nil}, ""},
		{"numeric without files", "123:456", empty, Identity{123, 456, "/", nil}, ""},
		{"numeric uid without files", "123", empty, Identity{123, 0, "/", nil}, ""},
		{"unknown user", "nobody", root, Identity{}, "unable to find user nobody: no matching entries in passwd file"},
		{"unknown user no files", "app", empty, Identity{}, "unable to find user app: no matching entries in passwd file"},
		{"unknown group", "user:nogroup", root, Identity{}, "unable to find group nogroup: no matching entries in group file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Resolve(tc.fsys, tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Resolve(%q) error = %v, want %q", tc.spec, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve(%q): %v", tc.spec, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Resolve(%q) (-want +got):\n%s", tc.spec, diff)
			}
		})
	}
}

func TestResolveChown(t *testing.T) {
	root := writeRoot(t, passwd, group)
	empty := writeRoot(t, "", "")
	noEtc := dirFS(t.TempDir())
	tests := []struct {
		name, spec string
		fsys       FS
		uid, gid   uint32
		wantErr    string
	}{
		{"uid alone uses it as gid", "55", empty, 55, 55, ""},
		{"uid:gid", "55:66", empty, 55, 66, ""},
		{"name uses primary gid", "svc", root, 999, 50, ""},
		{"name:group", "user:wheel", root, 1000, 10, ""},
		{"uid:group", "7:staff", root, 7, 50, ""},
		{"unknown name", "ghost", root, 0, 0, "unable to find user ghost"},
		{"unknown group", "7:ghosts", root, 0, 0, "unable to find group ghosts"},
		{"empty", "", root, 0, 0, "invalid chown"},
		{"root without passwd", "root", empty, 0, 0, ""},
		{"root:root without passwd or group", "root:root", noEtc, 0, 0, ""},
		{"empty user is uid 0", ":staff", root, 0, 50, ""},
		{"empty group", "7:", root, 0, 0, "invalid chown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveChown(tc.fsys, tc.spec)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("ResolveChown(%q) error = %v, want %q", tc.spec, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ResolveChown(%q): %v", tc.spec, err)
			}
			if got.UID != tc.uid || got.GID != tc.gid {
				t.Errorf("ResolveChown(%q) = %d:%d, want %d:%d", tc.spec, got.UID, got.GID, tc.uid, tc.gid)
			}
		})
	}
}
