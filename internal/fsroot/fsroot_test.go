package fsroot

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// hostileTree makes, in a new directory, base/outside (a victim outside
// the root) and base/root with hostile links, and returns the root.
func hostileTree(t testing.TB) string {
	t.Helper()
	base := t.TempDir()
	root := filepath.Join(base, "root")
	for _, d := range []string{"outside", "root/d/e", "root/etc", "root/outside"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	files := map[string]string{
		"outside/victim":      "out",
		"root/outside/victim": "in",
		"root/f":              "f",
		"root/d/e/g":          "g",
		"root/etc/passwd":     "root:x:0:0",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(base, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"abs":       "/",
		"absout":    "/outside",
		"up":        "../../..",
		"upout":     "../outside",
		"d/e/up":    "../../../../..",
		"d/rel":     "e/g",
		"d/e/back":  "../../d",
		"chain1":    "chain2",
		"chain2":    "chain3",
		"chain3":    "/d/e",
		"loop1":     "loop2",
		"loop2":     "loop1",
		"self":      "self",
		"dangling":  "/nowhere/x",
		"tofile":    "f",
		"slash":     "d/",
		"dotdotabs": "/../../etc",
	}
	for n, target := range links {
		if err := os.Symlink(target, filepath.Join(root, n)); err != nil {
			t.Fatal(err)
		}
	}
	// a chain of 41 links is one too many, one of 40 resolves
	for i := 0; i < 41; i++ {
		if err := os.Symlink("long"+strconv.Itoa(i+1), filepath.Join(root, "long"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(root, "long41"), 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

func fdPath(t testing.TB, fd int) string {
	t.Helper()
	p, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOpenStaysInRoot(t *testing.T) {
	root := hostileTree(t)
	cases := []struct {
		name string
		want string // host path relative to root, or an errno
		err  error
	}{
		{"abs/outside/victim", "outside/victim", nil},
		{"absout/victim", "outside/victim", nil},
		{"up/outside/victim", "outside/victim", nil},
		{"upout/victim", "outside/victim", nil},
		{"../../outside/victim", "outside/victim", nil},
		{"/../outside", "outside", nil},
		{"d/e/up/etc/passwd", "etc/passwd", nil},
		{"d/rel", "d/e/g", nil},
		{"d/e/back/e/back/rel", "d/e/g", nil},
		{"chain1/g", "d/e/g", nil},
		{"slash/e", "d/e", nil},
		{"dotdotabs/passwd", "etc/passwd", nil},
		{"", ".", nil},
		{"long1", "long41", nil},
		{"long0", "", unix.ELOOP},
		{"loop1", "", unix.ELOOP},
		{"self/x", "", unix.ELOOP},
		{"dangling", "", unix.ENOENT},
		{"tofile/x", "", unix.ENOTDIR},
		{"f/", "", unix.ENOTDIR},
	}
	for _, how := range []string{"openat2", "walk"} {
		var opts []Option
		if how == "walk" {
			opts = append(opts, WithWalk())
		}
		r, err := Open(root, opts...)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		for _, c := range cases {
			t.Run(how+"/"+c.name, func(t *testing.T) {
				fd, err := r.OpenFD(c.name, unix.O_PATH, 0)
				if c.err != nil {
					if !errors.Is(err, c.err) {
						t.Fatalf("open %q: %v, want %v", c.name, err, c.err)
					}
					return
				}
				if err != nil {
					t.Fatalf("open %q: %v", c.name, err)
				}
				defer unix.Close(fd)
				if got, want := fdPath(t, fd), filepath.Join(root, c.want); got != want {
					t.Errorf("open %q reached %s, want %s", c.name, got, want)
				}
			})
		}
	}
}

func TestOpenCreateWalk(t *testing.T) {
	root := hostileTree(t)
	r, err := Open(root, WithWalk())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f, err := r.Open("absout/new", unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := os.Stat(filepath.Join(root, "outside/new")); err != nil {
		t.Errorf("created file not inside the root: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "../outside/new")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("created file outside the root: %v", err)
	}
}

// TestResolveFS resolves over a Root (an FS) like Open, and keeps missing
// components or creates them.
func TestResolveFS(t *testing.T) {
	root := hostileTree(t)
	r, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cases := []struct {
		name, want string
		opts       []ResolveOption
		err        error
	}{
		{"absout/victim", "outside/victim", nil, nil},
		{"up/outside", "outside", nil, nil},
		{"chain1/g", "d/e/g", nil, nil},
		{"chain1", "chain1", []ResolveOption{NoFollowFinal()}, nil},
		{"chain1/", "d/e", []ResolveOption{NoFollowFinal()}, nil},
		{"dangling/y", "nowhere/x/y", nil, nil},
		{"absout/missing/../../x", "x", nil, nil},
		{"long1/x", "long41/x", nil, nil},
		{"long0", "", nil, unix.ELOOP},
		{"tofile/x", "", nil, unix.ENOTDIR},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Resolve(r, c.name, c.opts...)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("resolve %q: %v, want %v", c.name, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("resolve %q = %q, %v; want %q", c.name, got, err, c.want)
			}
		})
	}
	var made []string
	got, err := Resolve(r, "dangling/y", OnMissing(func(name string, last bool) error {
		made = append(made, name+":"+strconv.FormatBool(last))
		return os.Mkdir(filepath.Join(root, name), 0o755)
	}))
	if err != nil || got != "nowhere/x/y" {
		t.Fatalf("resolve with create = %q, %v", got, err)
	}
	if strings.Join(made, ",") != "nowhere:false,nowhere/x:false,nowhere/x/y:true" {
		t.Errorf("created %q", made)
	}
	if fi, err := os.Lstat(filepath.Join(root, "nowhere/x/y")); err != nil || !fi.IsDir() {
		t.Errorf("nowhere/x/y not made inside the root: %v", err)
	}
}

func TestLstatReadlink(t *testing.T) {
	root := hostileTree(t)
	r, err := Open(root, WithWalk())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	fi, err := r.Lstat("absout")
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 || fi.Name() != "absout" {
		t.Fatalf("lstat absout: %v, %v", fi, err)
	}
	if _, ok := fi.Sys().(*syscall.Stat_t); !ok {
		t.Fatalf("lstat Sys() is %T, want *syscall.Stat_t", fi.Sys())
	}
	fi, err = r.Lstat("absout/victim")
	if err != nil || fi.Size() != 2 {
		t.Fatalf("lstat absout/victim = %v, %v; want the 2-byte victim inside", fi, err)
	}
	if l, err := r.Readlink("d/e/up"); err != nil || l != "../../../../.." {
		t.Errorf("readlink d/e/up = %q, %v", l, err)
	}
	if _, err := r.Lstat("nope"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("lstat nope: %v, want ErrNotExist", err)
	}
}

func TestSameMount(t *testing.T) {
	for _, opts := range [][]Option{{SameMount()}, {SameMount(), WithWalk()}} {
		r, err := Open("/", opts...)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.OpenFD("proc/self", unix.O_PATH, 0)
		r.Close()
		var st, pst unix.Stat_t
		if unix.Stat("/", &st) != nil || unix.Stat("/proc", &pst) != nil || st.Dev == pst.Dev {
			t.Skip("/proc is not a separate mount here")
		}
		if !errors.Is(err, unix.EXDEV) {
			t.Errorf("open /proc/self across a mount: %v, want EXDEV", err)
		}
	}
}
