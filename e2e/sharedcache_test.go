package e2e_test

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
)

const sharedDockerfile = `FROM busybox AS tool
RUN echo tool > /tool
FROM busybox
COPY f /f
RUN cat /f > /seen && echo ran-on-a-machine
COPY --from=tool /tool /tool
`

// ranOutput finds the RUN's output (not its name) in plain progress.
var ranOutput = regexp.MustCompile(`(?m)^#\d+ \d+\.\d+ ran-on-a-machine`)

// A cache exported by one machine (store root A) serves every step on
// another (empty root B): nothing runs and the image is the same.
func TestSharedCache(t *testing.T) {
	testenv.LeakCheck(t)
	reg := testenv.StartRegistry(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), sharedDockerfile)
	writeFile(t, filepath.Join(ctxDir, "f"), "shared\n")
	bb := busyboxContext(t)
	local := filepath.Join(t.TempDir(), "localcache")
	tests := []struct {
		name     string
		to, from string
		cached   int
	}{
		{name: "registry min", to: "type=registry,ref=" + reg.Ref("cache/app") + ":min", from: "type=registry,ref=" + reg.Ref("cache/app") + ":min", cached: 3},
		{name: "registry max", to: "type=registry,ref=" + reg.Ref("cache/app") + ":max,mode=max", from: reg.Ref("cache/app") + ":max", cached: 4},
		{name: "local", to: "type=local,dest=" + local + ",mode=max", from: "type=local,src=" + local, cached: 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			build := func(root string, extra ...string) (string, result) {
				iid := filepath.Join(dir, "iid-"+filepath.Base(root))
				args := append([]string{"--root", root, "build", "--progress", "plain", "--build-context", bb, "--iidfile", iid}, extra...)
				r := mustBuild(t, runOpts{}, append(args, ctxDir)...)
				return string(testenvRead(t, iid)), r
			}
			idA, _ := build(filepath.Join(dir, "a"), "--cache-to", tt.to)
			idB, r := build(filepath.Join(dir, "b"), "--cache-from", tt.from)
			if idA != idB {
				t.Errorf("image on B %s, on A %s", idB, idA)
			}
			if ranOutput.MatchString(r.stderr) {
				t.Errorf("a RUN executed on B:\n%s", r.stderr)
			}
			ran, cached := ranCached(t, r)
			if cached < tt.cached {
				t.Errorf("B: %d run, %d cached; want at least %d cached\n%s", ran, cached, tt.cached, r.stderr)
			}
			if tt.cached == 4 && ran != 0 {
				t.Errorf("B with mode=max ran %d steps", ran)
			}
		})
	}
	// A missing cache only warns.
	r := mustBuild(t, runOpts{}, "--root", newRoot(t), "build", "--progress", "plain", "--build-context", bb,
		"--cache-from", "type=registry,ref="+reg.Ref("cache/none")+":x", ctxDir)
	if !strings.Contains(r.stderr, "cache") {
		t.Errorf("no warning about the missing cache:\n%s", r.stderr)
	}
}

// prune and du on a real store: what a tag uses stays.
func TestPruneAndDu(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	bb := busyboxContext(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM busybox\nCOPY f /f\nRUN cp /f /g\n")
	writeFile(t, filepath.Join(ctxDir, "f"), "one\n")
	mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", bb, "-t", "kept", ctxDir)
	writeFile(t, filepath.Join(ctxDir, "f"), "two\n")
	mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", bb, ctxDir)
	du := runBuilder(t, runOpts{}, "--root", root, "du")
	if du.code != 0 || du.stdout == "" {
		t.Fatalf("du: %s", du)
	}
	p := runBuilder(t, runOpts{}, "--root", root, "prune", "-a", "-f")
	if p.code != 0 {
		t.Fatalf("prune: %s", p)
	}
	if !strings.Contains(p.stdout+p.stderr, "reclaimed") && !strings.Contains(strings.ToLower(p.stdout+p.stderr), "freed") {
		t.Errorf("prune does not say what it freed: %s", p)
	}
	// The tagged image is whole: its blobs are all there and it unpacks.
	testenv.SkopeoInspect(t, "oci:"+filepath.Join(root, "oci")+":kept:latest")
	testenv.UmociUnpack(t, filepath.Join(root, "oci"), "kept:latest")
	// And the store still builds.
	mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", bb, ctxDir)
}

// du and prune agree: du's Reclaimable is what prune -f frees (said in
// prune's own words), and after it du shows 0 reclaimable of that.
func TestDuAgreesWithPrune(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	bb := busyboxContext(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM busybox\nCOPY f /f\nRUN cp /f /g\n")
	writeFile(t, filepath.Join(ctxDir, "f"), "one\n")
	mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", bb, "-t", "kept", ctxDir)
	writeFile(t, filepath.Join(ctxDir, "f"), "two\n")
	mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", bb, ctxDir)
	reclaimable := func() string {
		t.Helper()
		du := mustBuild(t, runOpts{}, "--root", root, "du")
		for _, line := range strings.Split(du.stdout, "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "Reclaimable:" {
				return f[1]
			}
		}
		t.Fatalf("du has no Reclaimable line:\n%s", du)
		return ""
	}
	before := reclaimable()
	if before == "0B" {
		t.Fatalf("nothing reclaimable after an untagged build")
	}
	p := mustBuild(t, runOpts{}, "--root", root, "prune", "-f")
	if !strings.Contains(p.stdout, "Total reclaimed space: "+before+"\n") {
		t.Errorf("du said %s reclaimable; prune -f:\n%s", before, p.stdout)
	}
	if after := reclaimable(); after != "0B" {
		t.Errorf("after prune -f, du shows %s reclaimable, want 0B", after)
	}
	testenv.UmociUnpack(t, filepath.Join(root, "oci"), "kept:latest")
}
