package e2e_test

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
)

// build --push and type=image,push=true put the image in a real registry;
// the digest files name what the registry has.
func TestBuildPush(t *testing.T) {
	testenv.LeakCheck(t)
	reg := testenv.StartRegistry(t)
	root := newRoot(t)
	ctxDir := smallContext(t, true)
	dir := t.TempDir()
	ref := reg.Ref("e2e/pushed") + ":v1"
	digestFile, mdFile := filepath.Join(dir, "digest"), filepath.Join(dir, "md.json")
	mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", busyboxContext(t),
		"--push", "-t", ref, "--digest-file", digestFile, "--metadata-file", mdFile, ctxDir)
	digest := strings.TrimSpace(string(testenvRead(t, digestFile)))
	var inspected struct{ Digest string }
	if err := json.Unmarshal(testenv.SkopeoInspect(t, "docker://"+ref, "--tls-verify=false"), &inspected); err != nil {
		t.Fatal(err)
	}
	if inspected.Digest != digest {
		t.Errorf("registry has %s, --digest-file says %s", inspected.Digest, digest)
	}
	var md map[string]string
	if err := json.Unmarshal(testenvRead(t, mdFile), &md); err != nil {
		t.Fatal(err)
	}
	if md["containerimage.digest"] != digest || md["image.name"] != ref {
		t.Errorf("metadata %v, want digest %s and name %s", md, digest, ref)
	}

	// The output form, to another name, without a local tag.
	ref2 := reg.Ref("e2e/other") + ":v2"
	mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", busyboxContext(t),
		"-o", "type=image,name="+ref2+",push=true", ctxDir)
	testenv.SkopeoInspect(t, "docker://"+ref2, "--tls-verify=false")

	// --push without a name is an error, not a silent no-op.
	r := runBuilder(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", busyboxContext(t), "--push", ctxDir)
	if r.code == 0 || !strings.Contains(r.stderr, "-t") {
		t.Errorf("--push without -t: %s", r)
	}
}
