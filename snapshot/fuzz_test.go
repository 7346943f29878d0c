package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// FuzzApply applies layers built from a small script of entries (seeded
// with hostile ones) with Apply and Ensure, and checks that nothing ever
// appears or changes outside the root.
//
// The fuzzer mutates the script, not tar bytes: a mutated tar header almost
// always fails its checksum, so raw tars explore nothing past the seeds, and
// Go minimizes every new interesting input by deleting bytes in O(n²) runs
// for up to -fuzzminimizetime (60 s): with multi-kilobyte tar inputs the
// workers spent all their time minimizing and the fuzzer stalled at a few
// execs. Scripts are tens of bytes.
//
// Script: one entry per line, a type letter then the name, then for links
// "|" and the target: f file, d directory, l symlink, h hard link,
// c character device 1:3, p fifo, w whiteout (".wh." + base of the name),
// o opaque marker in the named directory; other letters make files.
func FuzzApply(f *testing.F) {
	requireRoot(f)
	for _, s := range []string{
		"f../x",
		"ls|/\nfs/x",
		"ls|../..\nhh|s/victim",
		"dd\nod\nfd/f",
		"cc",
		"ls|/OUT\nfs/escape",
		"ls|../../../victim\nfs",
		"ls|/\nhh|s/victim",
		"ls|/OUT\nds\nfs/escape",
		"ls|/\nws/victim",
		"wa/..",
		"ls|s\nfs/x",
		"la|b\nlb|a\nfa/x",
		"d/\nf/a/../../../x",
		"ls|/proc/self/root\nfs/x",
		"la|.\nha/b|a",
		"pp\nhq|p\nwp",
		"fa\nha2|a\nwa\nfa",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, script string) {
		b, ok := scriptTar(script)
		if !ok {
			t.Skip("entries tar cannot encode")
		}
		base := t.TempDir()
		root := filepath.Join(base, "r", "root")
		if err := os.MkdirAll(root, 0o755); err != nil {
			t.Fatal(err)
		}
		victim := filepath.Join(base, "victim")
		if err := os.WriteFile(victim, []byte("v"), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = Apply(ctx, root, bytes.NewReader(b))
		_, _ = NewLayers(filepath.Join(base, "r")).Ensure(ctx, diffID(b), opener(b))
		if ctx.Err() != nil {
			t.Fatalf("extraction of %d bytes took over 10 s", len(b))
		}
		ents, err := os.ReadDir(base)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.Name() != "r" && e.Name() != "victim" {
				t.Errorf("entry outside the root: %s", e.Name())
			}
		}
		ents, err = os.ReadDir(filepath.Join(base, "r"))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if e.Name() != "root" && e.Name() != diffID(b).Hex {
				t.Errorf("entry outside the root: r/%s", e.Name())
			}
		}
		fi, err := os.Lstat(victim)
		if err != nil {
			t.Fatalf("victim: %v", err)
		}
		if v, _ := os.ReadFile(victim); !bytes.Equal(v, []byte("v")) || fi.Mode() != 0o644 {
			t.Errorf("victim changed: %q %v", v, fi.Mode())
		}
		if n := fi.Sys().(*syscall.Stat_t).Nlink; n != 1 {
			t.Errorf("victim hard linked from inside: %d links", n)
		}
	})
}

// scriptTar builds the layer tar FuzzApply's script describes; ok is false
// if tar cannot encode an entry.
func scriptTar(script string) ([]byte, bool) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, line := range strings.Split(script, "\n") {
		if line == "" {
			continue
		}
		name, link, _ := strings.Cut(line[1:], "|")
		h := &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, ModTime: baseTime, Format: tar.FormatPAX}
		body := ""
		switch line[0] {
		case 'd':
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		case 'l':
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, link, 0o777
		case 'h':
			h.Typeflag, h.Linkname = tar.TypeLink, link
		case 'c':
			h.Typeflag, h.Devmajor, h.Devminor = tar.TypeChar, 1, 3
		case 'p':
			h.Typeflag = tar.TypeFifo
		case 'w':
			dir, b := filepath.Split(name)
			h.Name = dir + whiteoutPrefix + b
		case 'o':
			h.Name = strings.TrimSuffix(name, "/") + "/" + whiteoutOpaque
		default:
			body = "x"
		}
		h.Size = int64(len(body))
		if err := tw.WriteHeader(h); err != nil {
			return nil, false
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			return nil, false
		}
	}
	if err := tw.Close(); err != nil {
		return nil, false
	}
	return buf.Bytes(), true
}
