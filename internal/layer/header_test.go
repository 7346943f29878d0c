package layer

import (
	"archive/tar"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

func TestModTime(t *testing.T) {
	in := time.Date(2020, 5, 6, 7, 8, 9, 987654321, time.UTC)
	if got, want := ModTime(in), time.Date(2020, 5, 6, 7, 8, 9, 0, time.UTC); !got.Equal(want) {
		t.Errorf("ModTime(%v) = %v, want %v", in, got, want)
	}
}

func TestTarHeader(t *testing.T) {
	dir := t.TempDir()
	mt := time.Date(2021, 1, 2, 3, 4, 5, 600000000, time.UTC)
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	sub := filepath.Join(dir, "sub")
	link := filepath.Join(dir, "link")
	fifo := filepath.Join(dir, "fifo")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("file", link); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// chown first: it clears setuid.
	uid, gid := os.Getuid(), os.Getgid()
	if uid == 0 {
		if err := os.Lchown(file, 1234, 5678); err != nil {
			t.Fatal(err)
		}
	}
	// chmod sets the special bits (the umask of mkdir/create may drop them).
	if err := os.Chmod(file, 0o4750|os.ModeSetuid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sub, 0o755|os.ModeSetgid|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{file, sub, fifo} {
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	fileUID, fileGID := uid, gid
	if uid == 0 {
		fileUID, fileGID = 1234, 5678
	}
	want := ModTime(mt)
	tests := []struct {
		path string
		want tar.Header
	}{
		{file, tar.Header{Typeflag: tar.TypeReg, Mode: 0o4750, Size: 5, Uid: fileUID, Gid: fileGID, ModTime: want, Format: tar.FormatPAX}},
		{sub, tar.Header{Typeflag: tar.TypeDir, Mode: 0o3755, Uid: uid, Gid: gid, ModTime: want, Format: tar.FormatPAX}},
		{fifo, tar.Header{Typeflag: tar.TypeFifo, Mode: 0o600, Uid: uid, Gid: gid, ModTime: want, Format: tar.FormatPAX}},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			fi, err := os.Lstat(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := TarHeader(fi)
			if !ok {
				t.Fatal("not a layer entry")
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("header (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("symlink", func(t *testing.T) {
		fi, err := os.Lstat(link)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := TarHeader(fi)
		if !ok || got.Typeflag != tar.TypeSymlink || got.Mode != 0o777 || got.Linkname != "" || got.ModTime.Nanosecond() != 0 {
			t.Errorf("symlink header %+v, %v", got, ok)
		}
	})
	t.Run("char device", func(t *testing.T) {
		fi, err := os.Lstat("/dev/null")
		if err != nil {
			t.Fatal(err)
		}
		got, ok := TarHeader(fi)
		if !ok || got.Typeflag != tar.TypeChar || got.Devmajor != 1 || got.Devminor != 3 {
			t.Errorf("/dev/null header %+v, %v; want char 1:3", got, ok)
		}
	})
	t.Run("socket", func(t *testing.T) {
		sock := filepath.Join(dir, "sock")
		l, err := net.Listen("unix", sock)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		fi, err := os.Lstat(sock)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := TarHeader(fi); ok {
			t.Error("a socket got a layer header")
		}
	})
}

func TestNormalize(t *testing.T) {
	in := &tar.Header{
		Typeflag: tar.TypeChar, Name: "dev/x", Linkname: "y", Size: 9,
		Mode: 0o104755, Uid: 7, Gid: 8, Uname: "someone", Gname: "group",
		ModTime:    time.Date(2010, 1, 1, 0, 0, 0, 500, time.UTC),
		AccessTime: time.Unix(1, 0), ChangeTime: time.Unix(2, 0),
		Devmajor: 4, Devminor: 5, Format: tar.FormatGNU,
		PAXRecords: map[string]string{"SCHILY.xattr.user.a": "b"},
	}
	want := tar.Header{
		Typeflag: tar.TypeChar, Mode: 0o4755, Uid: 7, Gid: 8,
		ModTime:  time.Date(2010, 1, 1, 0, 0, 0, 0, time.UTC),
		Devmajor: 4, Devminor: 5, Format: tar.FormatPAX,
	}
	if diff := cmp.Diff(want, Normalize(in)); diff != "" {
		t.Errorf("Normalize (-want +got):\n%s", diff)
	}
}
