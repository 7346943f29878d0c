package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"

	"github.com/builderdev/builder/internal/testenv"
)

// Each --output maps to the exporter of its type, in order; pushes get
// none here (pushExporters makes theirs), and dest=- is stdout.
func TestOutputExporters(t *testing.T) {
	dir := t.TempDir()
	outs, err := parseOutputs([]string{
		"type=oci,dest=" + filepath.Join(dir, "o.tar"),
		"type=docker,dest=" + filepath.Join(dir, "d.tar"),
		"type=local,dest=" + filepath.Join(dir, "rootfs"),
		"type=image,name=r.example/a,push=true",
		"type=registry,name=r.example/b",
		"-",
	})
	if err != nil {
		t.Fatal(err)
	}
	var stdout bytes.Buffer
	exps, err := outputExporters(outs, []string{"app:1"}, &stdout, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range exps {
		got = append(got, fmt.Sprintf("%T", e))
	}
	want := "*exporter.OCITar *exporter.DockerTar *exporter.LocalDir *exporter.RootfsTar"
	if strings.Join(got, " ") != want {
		t.Fatalf("exporters %q, want %q", got, want)
	}
	if _, err := exps[3].Export(context.Background(), empty.Image); err != nil {
		t.Fatal(err)
	}
	if list := testenv.TarList(t, bytes.NewReader(stdout.Bytes())); len(list) != 0 || stdout.Len() == 0 {
		t.Errorf("type=tar,dest=- wrote %d bytes, %d entries to stdout; want an empty tar", stdout.Len(), len(list))
	}
}
