package e2e_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
)

// checkCase is a rule case of testdata/dockerfiles/check.
func checkCase(t *testing.T, rule, kind string) (dockerfile, contextDir string) {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "testdata", "dockerfiles", "check", rule, kind)
	return filepath.Join(dir, "Dockerfile"), filepath.Join(dir, "context")
}

// TestCheckCommand: builder check prints "Dockerfile:LINE  Rule  message"
// and a fix naming the manifests in the context, exits 0 for warnings, and
// writes JSON and SARIF.
func TestCheckCommand(t *testing.T) {
	df, ctxDir := checkCase(t, "CacheBustingCopy", "bad")
	r := runBuilder(t, runOpts{}, "--root", newRoot(t), "check", "--offline", "-f", df, ctxDir)
	if r.code != 0 {
		t.Fatalf("warnings only: want exit 0\n%s", r)
	}
	for _, want := range []string{
		"Dockerfile:4  CacheBustingCopy  COPY . . copies the whole context before `npm ci` (line 5)",
		"    fix: COPY package.json package-lock.json ./ then the RUN of line 5, then COPY . .",
		"Dockerfile:2  RootUser  the final stage has no USER",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q\n%s", want, r)
		}
	}

	r = runBuilder(t, runOpts{}, "--root", newRoot(t), "check", "--offline", "--format", "json", "-f", df, ctxDir)
	var js struct {
		Findings []struct{ Rule, Fix string }
		Warnings int
	}
	if err := json.Unmarshal([]byte(r.stdout), &js); err != nil || r.code != 0 || js.Warnings != len(js.Findings) || len(js.Findings) == 0 {
		t.Fatalf("json: %v\n%s", err, r)
	}

	r = runBuilder(t, runOpts{}, "--root", newRoot(t), "check", "--offline", "--format", "sarif", "-f", df, ctxDir)
	var sarif struct {
		Version string
		Runs    []struct {
			Results []struct {
				RuleID    string
				Locations []struct {
					PhysicalLocation struct {
						Region struct{ StartLine int }
					}
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &sarif); err != nil || r.code != 0 {
		t.Fatalf("sarif: %v\n%s", err, r)
	}
	found := false
	for _, res := range sarif.Runs[0].Results {
		found = found || (res.RuleID == "CacheBustingCopy" && res.Locations[0].PhysicalLocation.Region.StartLine == 4)
	}
	if sarif.Version != "2.1.0" || !found {
		t.Errorf("sarif: version %q, CacheBustingCopy at line 4 found %v\n%s", sarif.Version, found, r.stdout)
	}

	r = runBuilder(t, runOpts{}, "check", "--format", "xml", ctxDir)
	if r.code != 2 || !strings.Contains(r.stderr, "--format") {
		t.Errorf("bad --format: want exit 2 naming the flag\n%s", r)
	}
}

// TestCheckErrorDirective: "# check=error=true" makes findings errors and
// the exit status 1; skip= drops a rule.
func TestCheckErrorDirective(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "Dockerfile"), "# check=skip=RootUser;error=true\nFROM scratch\nMAINTAINER me\n")
	r := runBuilder(t, runOpts{}, "--root", newRoot(t), "check", "--offline", dir)
	if r.code != 1 || !strings.Contains(r.stdout, "Dockerfile:3  MaintainerDeprecated  ") || strings.Contains(r.stdout, "RootUser") {
		t.Errorf("want exit 1, MaintainerDeprecated at line 3 and no RootUser\n%s", r)
	}
	writeFile(t, filepath.Join(dir, "Dockerfile"), "# check=skip=all\nFROM scratch\nMAINTAINER me\n")
	r = runBuilder(t, runOpts{}, "--root", newRoot(t), "check", "--offline", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "no problems found") {
		t.Errorf("skip=all: want exit 0 and no findings\n%s", r)
	}
}

// TestBuildCheck: build --check prints the findings and builds; with an
// error it stops before building.
func TestBuildCheck(t *testing.T) {
	dir := smallContext(t, false)
	out := filepath.Join(t.TempDir(), "img.tar")
	writeFile(t, filepath.Join(dir, "Dockerfile"), "FROM scratch\nMAINTAINER me\nCOPY hello.txt /\n")
	r := mustBuild(t, runOpts{}, "--root", newRoot(t), "build", "--check", "--progress", "plain", "-o", "type=oci,dest="+out, dir)
	if !strings.Contains(r.stderr, "Dockerfile:2  MaintainerDeprecated  ") {
		t.Errorf("build --check did not print the finding\n%s", r)
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("warnings only: no image written: %v", err)
	}

	out2 := filepath.Join(t.TempDir(), "img.tar")
	writeFile(t, filepath.Join(dir, "Dockerfile"), "# check=error=true\nFROM scratch\nMAINTAINER me\nCOPY hello.txt /\n")
	r = runBuilder(t, runOpts{}, "--root", newRoot(t), "build", "--check", "--progress", "plain", "-o", "type=oci,dest="+out2, dir)
	if r.code != 1 || !strings.Contains(r.stderr, "Dockerfile:3  MaintainerDeprecated  ") || !strings.Contains(r.stderr, "not building") {
		t.Errorf("error=true: want exit 1 with the finding, before building\n%s", r)
	}
	if _, err := os.Stat(out2); err == nil {
		t.Error("error=true: the image was built anyway")
	}

	// The Dockerfile from stdin is read once and serves both.
	r = mustBuild(t, runOpts{stdin: "FROM scratch\nCOPY hello.txt /\nCMD x\n"}, "--root", newRoot(t), "build", "--check",
		"--progress", "plain", "-f", "-", "-o", "type=oci,dest="+filepath.Join(t.TempDir(), "i.tar"), dir)
	if !strings.Contains(r.stderr, "Dockerfile:3  JSONArgsRecommended  ") {
		t.Errorf("stdin: finding missing\n%s", r)
	}
}

// TestCheckPin: against a real registry, --pin prints the digest the tag
// points at now, the one skopeo sees.
func TestCheckPin(t *testing.T) {
	testenv.LeakCheck(t)
	reg := testenv.StartRegistry(t)
	ref := testenv.PushBusybox(t, reg)
	var insp struct{ Digest string }
	if err := json.Unmarshal(testenv.Skopeo(t, "inspect", "--tls-verify=false", "docker://"+ref), &insp); err != nil || insp.Digest == "" {
		t.Fatalf("skopeo inspect: %v", err)
	}
	dir := t.TempDir()
	repo := strings.TrimSuffix(ref, ":latest")
	writeFile(t, filepath.Join(dir, "Dockerfile"), "FROM "+repo+"\nUSER 1000\n")
	r := runBuilder(t, runOpts{}, "--root", newRoot(t), "check", "--pin", dir)
	want := "    fix: FROM " + repo + "@" + insp.Digest
	if r.code != 0 || !strings.Contains(r.stdout, "Dockerfile:1  UnpinnedBaseImage  ") || !strings.Contains(r.stdout, want) {
		t.Errorf("want UnpinnedBaseImage with %q\n%s", want, r)
	}
}

// TestCheckLocalStore: a base image tagged in the local store is resolved
// from there (offline): its USER 1000 satisfies RootUser.
func TestCheckLocalStore(t *testing.T) {
	root := newRoot(t)
	dir := smallContext(t, false)
	writeFile(t, filepath.Join(dir, "Dockerfile"), "FROM scratch\nCOPY hello.txt /\nUSER 1000\n")
	mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "-t", "nonroot:1", dir)
	chk := t.TempDir()
	writeFile(t, filepath.Join(chk, "Dockerfile"), "FROM nonroot:1\nCMD [\"/hello.txt\"]\n")
	r := runBuilder(t, runOpts{}, "--root", root, "check", "--offline", chk)
	if r.code != 0 || strings.Contains(r.stdout, "RootUser") {
		t.Errorf("base from the store runs as 1000: want no RootUser\n%s", r)
	}
	r = runBuilder(t, runOpts{}, "--root", newRoot(t), "check", "--offline", chk)
	if !strings.Contains(r.stdout, "Dockerfile:1  RootUser  ") {
		t.Errorf("base not found: want RootUser\n%s", r)
	}
}
