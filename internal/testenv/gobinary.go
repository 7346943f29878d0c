package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// GoBinaryModule is the main module of the binary GoBinary builds, and
// GoBinaryDep its one dependency (taken from the module cache, offline).
const (
	GoBinaryModule = "example.com/sbomhello"
	GoBinaryDep    = "github.com/google/go-cmp"
	GoBinaryDepVer = "v0.7.0"
)

// GoBinary builds a tiny static Go program that imports go-cmp into
// dir/name with `go build` (offline: GOPROXY=off, from the module cache)
// and returns its path.
func GoBinary(t testing.TB, dir, name string) string {
	t.Helper()
	src := t.TempDir()
	files := map[string]string{
		"go.mod": "module " + GoBinaryModule + "\n\ngo 1.22\n\nrequire " + GoBinaryDep + " " + GoBinaryDepVer + "\n",
		"go.sum": GoBinaryDep + " " + GoBinaryDepVer + " h1:wk8382ETsv4JYUZwIsn6YpYiWiBsYLSJiTsyBybVuN8=\n" +
			GoBinaryDep + " " + GoBinaryDepVer + "/go.mod h1:pXiqmnSA92OHEEa9HXL2W4E7lf9JzCmGVUdgjX3N/iU=\n",
		"main.go": "package main\n\nimport (\n\t\"fmt\"\n\n\t\"github.com/google/go-cmp/cmp\"\n)\n\nfunc main() { fmt.Println(cmp.Equal(1, 1)) }\n",
	}
	for n, s := range files {
		if err := os.WriteFile(filepath.Join(src, n), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, name)
	goBin := "go"
	if root := runtime.GOROOT(); root != "" {
		goBin = filepath.Join(root, "bin", "go")
	}
	cmd := exec.Command(goBin, "build", "-trimpath", "-buildvcs=false", "-o", out, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOPROXY=off", "GOFLAGS=-mod=mod", "GOWORK=off")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	return out
}
