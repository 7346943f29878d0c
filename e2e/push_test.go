package e2e_test

import (
	"encoding/json"
	"fmt"
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

// Output compression options reach the written image.
func TestOutputCompression(t *testing.T) {
	testenv.LeakCheck(t)
	root := newRoot(t)
	ctxDir := smallContext(t, true)
	dir := t.TempDir()
	for _, tt := range []struct{ opts, mediaType string }{
		{"compression=zstd", "application/vnd.oci.image.layer.v1.tar+zstd"},
		{"compression=uncompressed", "application/vnd.oci.image.layer.v1.tar"},
		{"compression=gzip,compression-level=9,force-compression=true", "application/vnd.oci.image.layer.v1.tar+gzip"},
	} {
		out := filepath.Join(dir, strings.NewReplacer("=", "-", ",", "_").Replace(tt.opts)+".tar")
		mustBuild(t, runOpts{}, "--root", root, "build", "--progress", "plain", "--build-context", busyboxContext(t),
			"-o", "type=oci,dest="+out+","+tt.opts, ctxDir)
		var m struct{ Layers []struct{ MediaType string } }
		if err := json.Unmarshal(testenv.Skopeo(t, "inspect", "--raw", "oci-archive:"+out), &m); err != nil {
			t.Fatal(err)
		}
		for _, l := range m.Layers {
			if l.MediaType != tt.mediaType {
				t.Errorf("%s: layer media type %s, want %s", tt.opts, l.MediaType, tt.mediaType)
			}
		}
	}
}

// build --push shows each push in every progress mode, as `builder push`
// does: the ref, the digest the registry has and the manifest's size; json
// as a typed event.
func TestBuildPushProgress(t *testing.T) {
	testenv.LeakCheck(t)
	reg := testenv.StartRegistry(t)
	root := newRoot(t)
	ctxDir := smallContext(t, true)
	for _, mode := range []string{"plain", "tty", "json"} {
		t.Run(mode, func(t *testing.T) {
			refs := []string{reg.Ref("e2e/progress-"+mode) + ":a", reg.Ref("e2e/progress-"+mode) + ":b"}
			digestFile := filepath.Join(t.TempDir(), "digest")
			r := mustBuild(t, runOpts{}, "--root", root, "build", "--progress", mode, "--build-context", busyboxContext(t),
				"--push", "-t", refs[0], "-t", refs[1], "--digest-file", digestFile, ctxDir)
			digest := strings.TrimSpace(string(testenvRead(t, digestFile)))
			size := len(testenv.Skopeo(t, "inspect", "--raw", "--tls-verify=false", "docker://"+refs[0]))
			for _, ref := range refs {
				if mode != "json" {
					if want := fmt.Sprintf("pushed %s@%s size: %d", ref, digest, size); !strings.Contains(r.stderr, want) {
						t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
					}
					continue
				}
				found := false
				for _, line := range strings.Split(r.stderr, "\n") {
					var e struct {
						Status, Ref, Digest string
						Size                int
					}
					if json.Unmarshal([]byte(line), &e) == nil && e.Status == "pushed" && e.Ref == ref {
						found = e.Digest == digest && e.Size == size
						if !found {
							t.Errorf("push event %s, want digest %s size %d", line, digest, size)
						}
					}
				}
				if !found {
					t.Errorf("no push event for %s:\n%s", ref, r.stderr)
				}
			}
		})
	}
}
