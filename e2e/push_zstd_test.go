package e2e_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
)

// The pushes go without provenance (on by default for a push), so that
// the tag names the image manifest itself; attestations have their own
// tests (attest_test.go).
func TestBuildPushZstd(t *testing.T) {
	testenv.LeakCheck(t)
	reg := testenv.StartRegistry(t)
	root := newRoot(t)
	ctxDir := smallContext(t, true)
	dir := t.TempDir()
	ref := reg.Ref("e2e/zstd") + ":v1"
	digestFile := filepath.Join(dir, "digest")
	mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", busyboxContext(t),
		"--provenance=false", "--digest-file", digestFile, "-o", "type=image,name="+ref+",push=true,compression=zstd", ctxDir)
	raw := testenv.SkopeoInspect(t, "docker://"+ref, "--tls-verify=false", "--raw")
	var m struct{ Layers []struct{ MediaType string } }
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Layers) == 0 {
		t.Fatalf("no layers: %s", raw)
	}
	for _, l := range m.Layers {
		if l.MediaType != "application/vnd.oci.image.layer.v1.tar+zstd" {
			t.Errorf("layer %s", l.MediaType)
		}
	}
	recs, _ := os.ReadDir(filepath.Join(root, "conversions"))
	t.Logf("%d conversion records; digest %s", len(recs), strings.TrimSpace(string(testenvRead(t, digestFile))))
	if len(recs) != len(m.Layers) {
		t.Errorf("%d records for %d layers", len(recs), len(m.Layers))
	}
	ref2 := reg.Ref("e2e/zstd") + ":v2"
	mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", busyboxContext(t),
		"--provenance=false", "-o", "type=image,name="+ref2+",push=true,compression=zstd", "-o", "type=oci,dest="+filepath.Join(dir, "o.tar")+",compression=zstd", ctxDir)
	d1 := testenv.SkopeoInspect(t, "docker://"+ref, "--tls-verify=false", "--format", "{{.Digest}}")
	d2 := testenv.SkopeoInspect(t, "docker://"+ref2, "--tls-verify=false", "--format", "{{.Digest}}")
	if string(d1) != string(d2) {
		t.Errorf("digests %s %s", d1, d2)
	}
}
