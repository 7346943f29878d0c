package e2e_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
)

// --max-extract-size stops a compression bomb given to ADD at that step,
// with an error that names the limit; a bad value is a usage error.
func TestMaxExtractSize(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM scratch\nADD bomb.tar.gz /\n")
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	const size = 16 << 20
	if err := tw.WriteHeader(&tar.Header{Name: "zeros", Typeflag: tar.TypeReg, Mode: 0o644, Size: size}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(make([]byte, size)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(ctxDir, "bomb.tar.gz"), buf.String())

	r := runBuilder(t, runOpts{}, "--root", root, "build", "--progress", "plain",
		"--max-extract-size", "1m", ctxDir)
	if r.code == 0 || !oneLineHasAll(r.stderr, []string{"ERROR: Dockerfile:2: ADD failed: extract archive: extraction limit reached: extracting over 1048576 bytes (the limit of --max-extract-size)"}) {
		t.Errorf("a 16 MiB entry with --max-extract-size 1m:\n%s", r)
	}
	r = runBuilder(t, runOpts{}, "--root", root, "build", "--max-extract-size", "lots", ctxDir)
	if r.code != 2 || !strings.Contains(r.stderr, `invalid --max-extract-size "lots"`) {
		t.Errorf("--max-extract-size lots:\n%s", r)
	}
	mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain",
		"--max-extract-size", "64m", ctxDir)
}
