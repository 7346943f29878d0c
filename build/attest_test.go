package build_test

import (
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/builderdev/builder/build"
	"github.com/builderdev/builder/exporter"
	"github.com/builderdev/builder/internal/attest"
	"github.com/builderdev/builder/internal/testenv"
)

// A push with attestations pushes an index (the result's digest) whose
// attestation manifest refers to the image; provenance lists the base
// image the solver resolved. An output that cannot carry attestations
// gets the image alone, and the build says so.
func TestRunAttestations(t *testing.T) {
	reg := testenv.StartRegistry(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("REGISTRY_AUTH_FILE", "")
	ctxDir := writeContext(t, map[string]string{"a": "a"})
	req := request(t, ctxDir, "FROM busybox\nCOPY a /a\n")
	req.Contexts["busybox"] = "oci-layout://" + testenv.BusyboxLayout(t) + ":latest"
	ref := reg.Ref("app:att")
	rep := &events{}
	res := run(t, req, openStore(t), build.WithReporter(rep), build.WithTags("app:att"),
		build.WithExporters(exporter.NewPusher().Exporter([]string{ref}), exporter.NewLocalDir(filepath.Join(t.TempDir(), "out"))),
		build.WithAttestations(build.Attest{Provenance: &attest.ProvenanceOptions{Mode: attest.ModeMax}, SBOM: true, DockerfilePath: "Dockerfile"}))
	if len(res.BaseImages) != 1 || res.BaseImages[0].Ref != "busybox" || res.BaseImages[0].Digest.Hex == "" {
		t.Fatalf("base images %+v", res.BaseImages)
	}
	raw := testenv.SkopeoInspect(t, "docker://"+ref, append(reg.SkopeoFlags(""), "--raw")...)
	var idx struct {
		Manifests []struct {
			Digest      string
			Annotations map[string]string
		}
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	img, _ := res.Image.Digest()
	if len(idx.Manifests) != 2 || idx.Manifests[0].Digest != img.String() ||
		idx.Manifests[1].Annotations["vnd.docker.reference.digest"] != img.String() {
		t.Fatalf("pushed %s, image %s", raw, img)
	}
	if len(res.Pushed) != 1 || res.Digest != res.Pushed[0].Digest || res.Digest == img {
		t.Errorf("result digest %s, pushed %+v: want the index's", res.Digest, res.Pushed)
	}
	attManifest := testenv.SkopeoInspect(t, "docker://"+reg.Ref("app@"+idx.Manifests[1].Digest), append(reg.SkopeoFlags(""), "--raw")...)
	for _, pt := range []string{attest.PredicateSLSAv1, attest.PredicateSPDX} {
		if !strings.Contains(string(attManifest), pt) {
			t.Errorf("attestation manifest lacks %s: %s", pt, attManifest)
		}
	}
	infos := strings.Join(rep.infos(), "\n")
	if !strings.Contains(infos, "attestations are attached to registry pushes and type=oci tars only; these have the image alone: local dir ") ||
		!strings.Contains(infos, ", the local store (app:att)") {
		t.Errorf("no note that the local output and the store have no attestations:\n%s", infos)
	}
	if !strings.Contains(infos, "attestations: SLSA provenance https://slsa.dev/provenance/v1, mode=max") ||
		!strings.Contains(infos, "attestations: SPDX SBOM of 0 packages") {
		t.Errorf("no note of the attestations made:\n%s", infos)
	}
	// The SBOM is named after the first tag.
	r, err := name.ParseReference(reg.Ref("app@"+idx.Manifests[1].Digest), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	att, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := att.Layers()
	rc, err := layers[1].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	sbom, _ := io.ReadAll(rc)
	rc.Close()
	if !strings.Contains(string(sbom), `"name":"app:att"`) || !strings.Contains(string(sbom), `"spdxVersion":"SPDX-2.3"`) {
		t.Errorf("SBOM statement %s", sbom)
	}

	// Asked for with nowhere to put them, the build says so.
	rep = &events{}
	run(t, request(t, ctxDir, "FROM scratch\nCOPY a /a\n"), openStore(t), build.WithReporter(rep),
		build.WithAttestations(build.Attest{SBOM: true}))
	if infos := strings.Join(rep.infos(), "\n"); !strings.Contains(infos, "attestations are attached to registry pushes and type=oci tars only; this build has neither") {
		t.Errorf("no note that the build has no attestations:\n%s", infos)
	}

	// Without attestations the push is the image itself.
	res = run(t, request(t, ctxDir, "FROM scratch\nCOPY a /a\n"), openStore(t),
		build.WithExporters(exporter.NewPusher().Exporter([]string{reg.Ref("app:plain")})))
	if d, _ := res.Image.Digest(); res.Digest != d {
		t.Errorf("plain push %s, image %s", res.Digest, d)
	}
}
