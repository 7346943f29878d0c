package exporter_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/builderdev/builder/exporter"
	"github.com/builderdev/builder/internal/testenv"
)

// Every file exporter writes what its Write function writes, to a file
// renamed into place (mode 0644, no temp file left) or to a stream.
func TestExportersWrite(t *testing.T) {
	ctx := context.Background()
	img := simpleImage(t)
	want, _ := img.Digest()
	for _, tc := range []struct {
		name  string
		make  func(exporter.Dest) exporter.Exporter
		check func(t *testing.T, file string)
	}{
		{"oci", func(d exporter.Dest) exporter.Exporter { return exporter.NewOCITar(d, "app:1") }, func(t *testing.T, f string) {
			if got := skopeoInspect(t, "oci-archive:"+f+":1"); got.Digest != want.String() {
				t.Errorf("oci tar has %s, want %s", got.Digest, want)
			}
		}},
		{"docker", func(d exporter.Dest) exporter.Exporter { return exporter.NewDockerTar(d, []string{"app:1"}) }, func(t *testing.T, f string) {
			_, tags := testenv.ReadDockerArchive(t, f)
			if strings.Join(tags, ",") != "app:1" {
				t.Errorf("docker tar RepoTags %q", tags)
			}
		}},
		{"tar", func(d exporter.Dest) exporter.Exporter { return exporter.NewRootfsTar(d) }, func(t *testing.T, f string) {
			r, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			files := testenv.TarFiles(t, r)
			if got := files["home/user/notes"]; string(got.Data) != "hi" || got.Header.Uid != 1000 {
				t.Errorf("rootfs tar home/user/notes: %+v", got.Header)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			f := filepath.Join(dir, "out.tar")
			res, err := tc.make(exporter.File(f)).Export(ctx, img)
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Pushed) != 0 {
				t.Errorf("a file export reports pushes: %v", res.Pushed)
			}
			fi, err := os.Stat(f)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o644 {
				t.Errorf("mode %v, want 0644", fi.Mode())
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Errorf("%d entries in the dest dir, want only the tar", len(ents))
			}
			tc.check(t, f)

			// The same bytes through a stream.
			var buf bytes.Buffer
			if _, err := tc.make(exporter.Stream(&buf)).Export(ctx, img); err != nil {
				t.Fatal(err)
			}
			data, _ := os.ReadFile(f)
			if !bytes.Equal(buf.Bytes(), data) {
				t.Errorf("stream has %d bytes, file %d", buf.Len(), len(data))
			}
		})
	}
}

// A failed export leaves no file and no temp file behind, and names the
// destination.
func TestExportFailsCleanly(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "out.tar")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := exporter.NewOCITar(exporter.File(f), "").Export(ctx, simpleImage(t))
	if err == nil || !strings.Contains(err.Error(), "write "+f) || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want a canceled write of %s", err, f)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left %d entries behind", len(ents))
	}
	if _, err := exporter.NewRootfsTar(exporter.File(filepath.Join(dir, "no", "such", "x.tar"))).Export(context.Background(), simpleImage(t)); err == nil {
		t.Error("export into a missing directory succeeded")
	}
}

// LocalDir writes the root file system into a directory it creates.
func TestLocalDirExporter(t *testing.T) {
	out := filepath.Join(t.TempDir(), "a", "rootfs")
	if _, err := exporter.NewLocalDir(out).Export(context.Background(), simpleImage(t)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(out, "home/user/notes"))
	if err != nil || string(data) != "hi" {
		t.Fatalf("home/user/notes: %q, %v", data, err)
	}
	if l, err := os.Readlink(filepath.Join(out, "etc/alias")); err != nil || l != "hostname" {
		t.Errorf("etc/alias -> %q, %v", l, err)
	}
	fi, err := os.Stat(filepath.Join(out, "home/user"))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("home/user: %v, %v", fi, err)
	}
	if _, err := exporter.NewLocalDir("/proc/nope").Export(context.Background(), simpleImage(t)); err == nil || !strings.Contains(err.Error(), "write /proc/nope") {
		t.Errorf("unwritable dir: %v", err)
	}
}
