package exporter_test

import (
	"archive/tar"
	"bytes"
	"io"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func dir(name string, mode int64, uid int) testenv.TarEntry {
	return testenv.TarEntry{Header: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: mode, Uid: uid, Gid: uid, ModTime: testenv.Epoch()}}
}

func file(name, body string, mode int64, uid int) testenv.TarEntry {
	return testenv.TarEntry{Header: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Uid: uid, Gid: uid, ModTime: testenv.Epoch()}, Body: []byte(body)}
}

func symlink(name, target string) testenv.TarEntry {
	return testenv.TarEntry{Header: tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777, ModTime: testenv.Epoch()}}
}

func hardlink(name, target string) testenv.TarEntry {
	return testenv.TarEntry{Header: tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: target, Mode: 0o644, ModTime: testenv.Epoch()}}
}

// buildImage makes an OCI image (gzip layers) from layer tars.
func buildImage(t *testing.T, layers ...[]testenv.TarEntry) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, entries := range layers {
		data := testenv.BuildTar(t, entries)
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		}, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			t.Fatal(err)
		}
		img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{CreatedBy: "test", Created: v1.Time{Time: testenv.Epoch()}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: testenv.Epoch()}
	cf.Config.Cmd = []string{"/bin/sh"}
	cf.Config.Env = []string{"PATH=/usr/bin:/bin"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func simpleImage(t *testing.T) v1.Image {
	return buildImage(t,
		[]testenv.TarEntry{dir("etc/", 0o755, 0), file("etc/hostname", "box\n", 0o644, 0), dir("home/", 0o755, 0), dir("home/user/", 0o700, 1000)},
		[]testenv.TarEntry{file("home/user/notes", "hi", 0o600, 1000), symlink("etc/alias", "hostname")},
	)
}
