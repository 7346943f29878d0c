package snapshot

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Every kind of entry replaces every kind of entry of the same name that
// came before it in the layer, as the last one wins in Docker's
// extraction; a directory over a directory keeps what the first held and
// takes the second's mode. Entries are created first and what is in the
// way is looked at only when the create finds the name taken: this checks
// each of those second tries, with and without an earlier layer to link
// files from.
func TestExtractReplacesEveryKind(t *testing.T) {
	requireRoot(t)
	kinds := map[string]func(name string) ent{
		"dir":      func(n string) ent { return dir(n+"/", 0o711) },
		"file":     func(n string) ent { return file(n, "body of "+n) },
		"symlink":  func(n string) ent { return symlink(n, "target") },
		"hardlink": func(n string) ent { return hardlink(n, "target") },
		"fifo":     func(n string) ent { return ent{name: n, typ: tar.TypeFifo, mode: 0o600} },
	}
	wantType := map[string]uint32{"dir": unix.S_IFDIR, "file": unix.S_IFREG, "symlink": unix.S_IFLNK,
		"hardlink": unix.S_IFREG, "fifo": unix.S_IFIFO}
	// An earlier layer with the same file at n: the second file entry is
	// linked from it when it can be.
	from := t.TempDir()
	if err := extract(context.Background(), from, bytes.NewReader(mkTar(t, file("n", "body of n"))),
		whiteoutsAsOverlay, extractConfig(nil)); err != nil {
		t.Fatal(err)
	}
	for _, first := range sortedKeys(kinds) {
		for _, second := range sortedKeys(kinds) {
			for _, link := range []bool{false, true} {
				name := first + " then " + second
				if link {
					name += ", linking"
				}
				t.Run(name, func(t *testing.T) {
					ents := []ent{file("target", "the target")}
					ents = append(ents, kinds[first]("n"))
					if first == "dir" {
						ents = append(ents, file("n/inside", "kept?"))
					}
					ents = append(ents, kinds[second]("n"))
					var opts []ExtractOption
					if link {
						opts = append(opts, WithLinkFrom(from))
					}
					root := t.TempDir()
					if err := extract(context.Background(), root, bytes.NewReader(mkTar(t, ents...)),
						whiteoutsAsOverlay, extractConfig(opts)); err != nil {
						t.Fatal(err)
					}
					p := filepath.Join(root, "n")
					var st unix.Stat_t
					if err := unix.Lstat(p, &st); err != nil {
						t.Fatal(err)
					}
					if got := st.Mode & unix.S_IFMT; got != wantType[second] {
						t.Fatalf("n is type %o, want %o (%s)", got, wantType[second], second)
					}
					_, err := os.Lstat(filepath.Join(root, "n", "inside"))
					if kept := err == nil; kept != (first == "dir" && second == "dir") {
						t.Errorf("n/inside kept: %v", kept)
					}
					switch second {
					case "dir":
						if st.Mode&0o7777 != 0o711 {
							t.Errorf("mode %o, want 711", st.Mode&0o7777)
						}
					case "file", "hardlink":
						want := map[string]string{"file": "body of n", "hardlink": "the target"}[second]
						if b, err := os.ReadFile(p); err != nil || string(b) != want {
							t.Errorf("content %q, %v; want %q", b, err, want)
						}
					case "symlink":
						if l, err := os.Readlink(p); err != nil || l != "target" {
							t.Errorf("link %q, %v", l, err)
						}
					}
				})
			}
		}
	}
}
