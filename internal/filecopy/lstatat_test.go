package filecopy

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestStatInfoMatchesLstat: the FileInfo of an fstatat says what os.Lstat
// says, for every kind of file and the special mode bits.
func TestStatInfoMatchesLstat(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "reg"), []byte("hello"), 0o640))
	must(os.Chmod(filepath.Join(dir, "reg"), 0o640|os.ModeSetuid|os.ModeSetgid))
	must(os.Mkdir(filepath.Join(dir, "dir"), 0o755))
	must(os.Chmod(filepath.Join(dir, "dir"), 0o1777|os.ModeSticky))
	must(os.Symlink("reg", filepath.Join(dir, "link")))
	must(unix.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	must(unix.Mknod(filepath.Join(dir, "chr"), unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))))
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY, 0)
	must(err)
	defer unix.Close(fd)
	for _, n := range []string{"reg", "dir", "link", "fifo", "chr"} {
		t.Run(n, func(t *testing.T) {
			want, err := os.Lstat(filepath.Join(dir, n))
			must(err)
			got, err := lstatAt(fd, n)
			must(err)
			if got.Name() != want.Name() || got.Mode() != want.Mode() || got.Size() != want.Size() ||
				!got.ModTime().Equal(want.ModTime()) || got.IsDir() != want.IsDir() {
				t.Errorf("lstatAt = %s %v %d %v, os.Lstat = %s %v %d %v", got.Name(), got.Mode(), got.Size(), got.ModTime(),
					want.Name(), want.Mode(), want.Size(), want.ModTime())
			}
			if g, w := got.Sys().(*syscall.Stat_t), want.Sys().(*syscall.Stat_t); *g != *w {
				t.Errorf("Sys = %+v, want %+v", *g, *w)
			}
		})
	}
}
