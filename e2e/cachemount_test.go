package e2e_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
)

// A cache mount's owner and mode are part of the step's cache key and of
// the cache it gets, across builds on one store root (BuildKit keys a cache
// mount by id plus the base uid=, gid= and mode= create).
func TestCacheMountOwnerAcrossBuilds(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	bb := busyboxContext(t)
	build := func(opts string, extra ...string) (result, string) {
		t.Helper()
		writeFile(t, filepath.Join(ctxDir, "Dockerfile"), fmt.Sprintf(
			"FROM busybox\nRUN --mount=type=cache,target=/c%s ls /c > /seen && stat -c %%u /c > /owner && touch /c/f\n", opts))
		out := filepath.Join(t.TempDir(), "out")
		args := append([]string{"--root", root, "build", "--progress", "plain", "--build-context", bb, "-o", "type=local,dest=" + out}, extra...)
		return mustBuild(t, runOpts{}, append(args, ctxDir)...), out
	}
	check := func(what string, r result, out string, wantRun bool, seen, owner string) {
		t.Helper()
		ran := ranSteps(r)
		if got := len(ran) == 1 && strings.Contains(ran[0], "RUN"); got != wantRun {
			t.Errorf("%s: ran %q, want the RUN step to run: %t\n%s", what, ran, wantRun, r.stderr)
		}
		for name, want := range map[string]string{"seen": seen, "owner": owner} {
			b, err := os.ReadFile(filepath.Join(out, name))
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if string(b) != want {
				t.Errorf("%s: /%s = %q, want %q", what, name, b, want)
			}
		}
	}

	r, out := build(",uid=10")
	check("uid=10 cold", r, out, true, "", "10\n")
	r, out = build(",uid=10")
	check("uid=10 again", r, out, false, "", "10\n")
	r, out = build(",uid=20")
	check("uid=20", r, out, true, "", "20\n")
	r, out = build(",uid=10", "--no-cache")
	check("uid=10 --no-cache", r, out, true, "f\n", "10\n")
	r, out = build(",uid=10,mode=0700", "--no-cache")
	check("uid=10,mode=0700", r, out, true, "", "10\n")
}
