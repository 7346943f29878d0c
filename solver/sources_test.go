package solver

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/builderdev/builder/internal/filecopy"
	"github.com/builderdev/builder/parser"
	"github.com/builderdev/builder/store"
)

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// testBuild is a build of nothing with a context dir, .dockerignore
// patterns and named contexts: enough for key inputs of local sources.
func testBuild(t *testing.T, contextDir string, ignore []string, contexts map[string]string) *build {
	t.Helper()
	stats, err := filecopy.OpenStatCache(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := &build{s: &Solver{store: st, stats: stats}, req: &Request{Ignore: ignore}, df: &parser.Dockerfile{}, contextDir: contextDir, contexts: map[string]namedContext{}}
	for k, v := range contexts {
		nc, err := parseNamedContext(v)
		if err != nil {
			t.Fatal(err)
		}
		b.contexts[k] = nc
	}
	return b
}

// A RUN bind mount of the context is keyed by what it shows: a file it sees
// changes the key, an ignored file does not.
func TestBindMountKeyFollowsWhatItSees(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"src/a.go": "a", "src/debug.log": "x", "other.txt": "o"})
	mount := &parser.Mount{Type: parser.MountBind, Source: "src", Target: "/src", ReadOnly: true}
	input := func() string {
		t.Helper()
		b := testBuild(t, dir, []string{"**/*.log"}, nil)
		in, err := b.mountInput(context.Background(), mount)
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	base := input()
	writeTree(t, dir, map[string]string{"src/debug.log": "changed, but ignored", "other.txt": "not under the source"})
	if got := input(); got != base {
		t.Errorf("an ignored or unmounted file changed the mount's key input")
	}
	writeTree(t, dir, map[string]string{"src/a.go": "a2"})
	if got := input(); got == base {
		t.Errorf("a mounted file's change left the mount's key input as it was")
	}
	b := testBuild(t, dir, []string{"src/debug.log"}, nil)
	if _, err := b.mountInput(context.Background(), &parser.Mount{Type: parser.MountBind, Source: "src/debug.log", Target: "/x"}); err == nil {
		t.Errorf("a bind mount of an ignored file has a key; want not found")
	}
}

// A local named context is keyed by content, not path: the same files at
// two paths give the same inputs (COPY --from and a bind mount from it),
// other content other ones.
func TestNamedContextKeyedByContent(t *testing.T) {
	one, two := t.TempDir(), t.TempDir()
	for _, d := range []string{one, two} {
		writeTree(t, d, map[string]string{"f.txt": "same"})
	}
	mount := &parser.Mount{Type: parser.MountBind, From: "lib", Target: "/lib", ReadOnly: true}
	inputs := func(dir string) (string, string) {
		t.Helper()
		b := testBuild(t, t.TempDir(), nil, map[string]string{"lib": dir})
		_, srcKey, err := b.sourceFS(context.Background(), "lib")
		if err != nil {
			t.Fatal(err)
		}
		in, err := b.mountInput(context.Background(), mount)
		if err != nil {
			t.Fatal(err)
		}
		return srcKey, in
	}
	src1, mnt1 := inputs(one)
	src2, mnt2 := inputs(two)
	if src1 != src2 || mnt1 != mnt2 {
		t.Errorf("one content at two paths: source keys %s / %s, mount inputs %s / %s; want equal", src1, src2, mnt1, mnt2)
	}
	writeTree(t, two, map[string]string{"f.txt": "changed"})
	if _, mnt := inputs(two); mnt == mnt1 {
		t.Errorf("changed content kept the mount's key input")
	}
}

// The directory a bind mount of the context gets holds what the context FS
// shows and nothing else.
func TestBindMountOfContextHidesIgnored(t *testing.T) {
	dir := t.TempDir()
	writeTree(t, dir, map[string]string{"app/main.go": "m", "app/secret.env": "s", "app/keep/x": "x"})
	b := testBuild(t, dir, []string{"app/secret.env"}, nil)
	work := t.TempDir()
	lowers, err := b.sourceLowers(context.Background(), &parser.Mount{Type: parser.MountBind, Source: "/app", Target: "/app"}, work)
	if err != nil {
		t.Fatal(err)
	}
	if len(lowers) != 1 {
		t.Fatalf("lowers = %q, want one dir", lowers)
	}
	if _, err := os.Lstat(filepath.Join(lowers[0], "secret.env")); !os.IsNotExist(err) {
		t.Errorf("the ignored app/secret.env is in the mount (err %v)", err)
	}
	for _, p := range []string{"main.go", "keep/x"} {
		if _, err := os.Stat(filepath.Join(lowers[0], p)); err != nil {
			t.Errorf("app/%s is not in the mount: %v", p, err)
		}
	}
	if filepath.Dir(lowers[0]) != work {
		t.Errorf("mount source %s is not under the step's work dir %s", lowers[0], work)
	}
}
