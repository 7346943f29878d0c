package fsroot

import (
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// components the fuzzer builds names from: the hostile tree's links and
// directories, and the path syntax that attacks them.
var fuzzComps = []string{"", ".", "..", "abs", "absout", "up", "upout", "d", "e", "up",
	"rel", "back", "chain1", "chain3", "loop1", "self", "dangling", "tofile", "slash",
	"dotdotabs", "outside", "victim", "etc", "passwd", "f", "g", "long1", "long0", "x"}

// fuzzName turns bytes into a slash name of fuzzComps (a leading 0xff
// makes it absolute).
func fuzzName(b []byte) string {
	var comps []string
	for _, c := range b {
		comps = append(comps, fuzzComps[int(c)%len(fuzzComps)])
	}
	n := strings.Join(comps, "/")
	if len(b) > 0 && b[0] == 0xff {
		n = "/" + n
	}
	return n
}

// FuzzOpenAgrees checks that openat2 and the userspace walk open the same
// file or fail with the same errno, that what they open is inside the root,
// and that Resolve over the root names that same file.
func FuzzOpenAgrees(f *testing.F) {
	for _, s := range []string{"\x04\x15\x16", "\x05\x16", "\x02\x02\x14", "\x07\x08\x02", "\x0c", "\x0e\x01", "\xff\x02\x02\x17\x18", "\x1b"} {
		f.Add([]byte(s))
	}
	root := hostileTree(f)
	kernel, err := Open(root)
	if err != nil {
		f.Fatal(err)
	}
	defer kernel.Close()
	walk, err := Open(root, WithWalk())
	if err != nil {
		f.Fatal(err)
	}
	defer walk.Close()
	if fd, err := kernel.openat2(".", unix.O_PATH, 0); errors.Is(err, unix.ENOSYS) {
		f.Skip("no openat2 here")
	} else if err == nil {
		unix.Close(fd)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 64 {
			return
		}
		name := fuzzName(b)
		wfd, werr := walk.OpenFD(name, unix.O_PATH, 0)
		kfd, kerr := kernel.OpenFD(name, unix.O_PATH, 0)
		// When its RCU walk falls back to a ref walk, the kernel keeps the
		// links it counted so far (set_nameidata), so a busy machine can
		// see ELOOP below 40 links: such an ELOOP is asked again.
		for i := 0; i < 20 && werr == nil && errors.Is(kerr, unix.ELOOP); i++ {
			kfd, kerr = kernel.OpenFD(name, unix.O_PATH, 0)
		}
		if kerr == nil {
			defer unix.Close(kfd)
		}
		if werr == nil {
			defer unix.Close(wfd)
		}
		if (kerr == nil) != (werr == nil) || (kerr != nil && !errors.Is(werr, kerr.(syscall.Errno))) {
			t.Fatalf("open %q: openat2 %v, walk %v", name, kerr, werr)
		}
		if kerr != nil {
			return
		}
		kp, wp := fdPath(t, kfd), fdPath(t, wfd)
		if kp != wp {
			t.Fatalf("open %q: openat2 reached %s, walk %s", name, kp, wp)
		}
		if kp != root && !strings.HasPrefix(kp, root+"/") {
			t.Fatalf("open %q left the root: %s", name, kp)
		}
		res, err := Resolve(walk, name)
		if err != nil {
			t.Fatalf("resolve %q: %v (open reached %s)", name, err, kp)
		}
		if got := filepath.Join(root, res); got != kp {
			t.Fatalf("resolve %q = %s, open reached %s", name, got, kp)
		}
	})
}
