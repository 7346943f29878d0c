package solver

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/builderdev/builder/cache"
	"github.com/builderdev/builder/internal/platform"
	"github.com/builderdev/builder/internal/testenv"
	"github.com/builderdev/builder/parser"
	"github.com/builderdev/builder/store"
)

func TestParsePlatforms(t *testing.T) {
	ps, err := ParsePlatforms("linux/amd64, linux/aarch64,linux/arm/v7")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, platform.String(p))
	}
	if strings.Join(got, ",") != "linux/amd64,linux/arm64,linux/arm/v7" {
		t.Errorf("platforms %v", got)
	}
	for in, want := range map[string]string{
		"linux/arm64,linux/arm64/v8": "linux/arm64 given twice",
		"linux/amd64,":               "empty entry",
		"linux/amd64,windows/amd64":  "only linux images",
		"linux/sparc":                `unknown architecture "sparc"`,
	} {
		if _, err := ParsePlatforms(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParsePlatforms(%q) = %v, want %q", in, err, want)
		}
	}
	if ps, err := ParsePlatforms(""); err != nil || len(ps) != 1 || !platform.Same(ps[0], platform.Host()) {
		t.Errorf("empty: %v %v", ps, err)
	}
}

// TestMissingEmulatorFailsFirst: a RUN for a platform without an emulator
// fails before any step starts, naming the line and the package.
func TestMissingEmulatorFailsFirst(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.Open(st.CacheDir(), st)
	if err != nil {
		t.Fatal(err)
	}
	binfmt := t.TempDir() // binfmt_misc with no handlers
	if err := os.WriteFile(filepath.Join(binfmt, "status"), []byte("enabled\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	df, err := parser.Parse(strings.NewReader("FROM busybox\nCOPY Dockerfile /\nRUN true\n"))
	if err != nil {
		t.Fatal(err)
	}
	rec := &events{}
	s := New(st, c, WithReporter(rec), WithBinfmtDir(binfmt))
	host := platform.Host()
	other, _ := ParsePlatform("linux/s390x")
	if host.Architecture == "s390x" {
		other, _ = ParsePlatform("linux/riscv64")
	}
	for _, ps := range [][]string{{platform.String(host), platform.String(other)}, {platform.String(other)}} {
		var req Request
		req.Dockerfile, req.ContextDir = df, t.TempDir()
		req.Contexts = map[string]string{"busybox": "oci-layout://" + testenv.BusyboxLayout(t) + ":latest"}
		for _, p := range ps {
			pp, _ := ParsePlatform(p)
			req.Platforms = append(req.Platforms, pp)
		}
		_, err := s.Build(context.Background(), &req)
		if err == nil || !strings.Contains(err.Error(), "Dockerfile:3: cannot run steps for "+platform.String(other)) ||
			!strings.Contains(err.Error(), "install qemu-user-static") {
			t.Errorf("%v: error %v", ps, err)
		}
		for _, e := range rec.all {
			if e.Vertex != 0 {
				t.Errorf("%v: a step was reported before the failure: %+v", ps, e)
			}
		}
	}
}
