package build_test

import (
	"archive/tar"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/build"
	"github.com/builderdev/builder/internal/testenv"
	"github.com/builderdev/builder/parser"
	"github.com/builderdev/builder/solver"
	"github.com/builderdev/builder/store"
)

// events records progress events.
type events struct {
	mu sync.Mutex
	ev []solver.Event
}

func (e *events) Report(ev solver.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.ev = append(e.ev, ev)
}

// infos returns the build-wide messages.
func (e *events) infos() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, ev := range e.ev {
		if ev.Status == solver.StatusInfo {
			out = append(out, ev.Data)
		}
	}
	return out
}

// writeContext writes files (name → content) into a new context dir.
func writeContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// request parses dockerfile into a request over contextDir.
func request(t *testing.T, contextDir, dockerfile string) *solver.Request {
	t.Helper()
	df, err := parser.Parse(strings.NewReader(dockerfile), parser.WithName("Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	platform, err := solver.ParsePlatform("")
	if err != nil {
		t.Fatal(err)
	}
	return &solver.Request{Dockerfile: df, ContextDir: contextDir, Platform: &platform,
		BuildArgs: map[string]string{}, Labels: map[string]string{}, Contexts: map[string]string{}, Secrets: map[string]solver.Secret{}}
}

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// run builds req into st and fails the test on error.
func run(t *testing.T, req *solver.Request, st *store.Store, opts ...build.Option) *build.Result {
	t.Helper()
	res, err := build.Run(testCtx(t), req, append([]build.Option{build.WithStore(st)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// layerHeaders returns the tar headers of every layer of img, bottom first.
func layerHeaders(t *testing.T, img v1.Image) []map[string]*tar.Header {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]*tar.Header
	for _, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, testenv.TarHeaders(t, rc))
		rc.Close()
	}
	return out
}

// names lists the entry names of a layer, sorted.
func names(h map[string]*tar.Header) string {
	var n []string
	for k := range h {
		n = append(n, k)
	}
	sort.Strings(n)
	return strings.Join(n, " ")
}

// blobs lists the store's blob files.
func blobs(t *testing.T, st *store.Store) []string {
	t.Helper()
	dir := filepath.Dir(st.BlobPath(v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}))
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}
