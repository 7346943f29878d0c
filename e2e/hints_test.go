package e2e_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
)

// The line at the end of a build is followed by at most three `builder
// check` hints, each naming the Dockerfile line and the rule, then how
// many more there are; a Dockerfile no rule fires on gets none.
func TestBuildSummaryHints(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	bb := busyboxContext(t)
	hints := func(r result) []string {
		var hs []string
		for _, l := range strings.Split(r.stderr, "\n") {
			if strings.HasPrefix(l, "hint: ") {
				hs = append(hs, l)
			}
		}
		return hs
	}

	noisy := filepath.Join(t.TempDir(), "noisy")
	writeFile(t, filepath.Join(noisy, "Dockerfile"), "FROM busybox\nMAINTAINER someone\nWORKDIR tmp\nENV API_TOKEN=x\nCMD echo hi\n")
	r := mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", bb, noisy)
	hs := hints(r)
	if len(hs) != 4 || !strings.HasPrefix(hs[3], "hint: ") || !strings.Contains(hs[3], "more: run builder check") {
		t.Fatalf("want 3 hints and a 'more' line, got %q in:\n%s", hs, r.stderr)
	}
	// In line order; busybox is a named context, so not UnpinnedBaseImage.
	for i, want := range []string{"hint: Dockerfile:1 RootUser: ", "hint: Dockerfile:2 MaintainerDeprecated: ", "hint: Dockerfile:3 WorkdirRelativePath: "} {
		if !strings.HasPrefix(hs[i], want) {
			t.Errorf("hint %d is %q, want %q...", i, hs[i], want)
		}
	}
	if hs[3] != "hint: 2 more: run builder check" {
		t.Errorf("last hint line %q", hs[3])
	}
	// --check prints every finding before the build: no hints repeat them.
	r = mustBuild(t, runOpts{}, "--root", root, "build", "--check", "--progress", "plain", "--build-context", bb, noisy)
	if hs := hints(r); len(hs) != 0 {
		t.Errorf("--check build printed hints %q", hs)
	}

	clean := filepath.Join(t.TempDir(), "clean")
	writeFile(t, filepath.Join(clean, "Dockerfile"), "FROM busybox\nUSER 1000:1000\nCMD [\"echo\", \"hi\"]\n")
	r = mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", bb, clean)
	if hs := hints(r); len(hs) != 0 {
		t.Errorf("clean Dockerfile got hints %q:\n%s", hs, r.stderr)
	}
}
