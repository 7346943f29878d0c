package exporter

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/builderdev/builder/internal/attest"
	"github.com/builderdev/builder/internal/testenv"
	"github.com/builderdev/builder/registry"
)

func testAttestations(names ...string) Attestations {
	return Attestations{
		Names: names,
		Predicates: []attest.Predicate{
			{Statement: attest.StatementV1, Type: attest.PredicateSLSAv1, Data: json.RawMessage(`{"buildDefinition":{}}`)},
			{Statement: attest.StatementV01, Type: attest.PredicateSPDX, Data: json.RawMessage(`{"spdxVersion":"SPDX-2.3"}`)},
		},
	}
}

// checkAttestedIndex checks idx is img plus its attestation manifest laid
// out as BuildKit does, with subjects named after names.
func checkAttestedIndex(t *testing.T, idx v1.ImageIndex, img v1.Image, names ...string) {
	t.Helper()
	checkAttestedIndexFor(t, idx, img, "amd64", names...)
}

// checkAttestedIndexFor is checkAttestedIndex of an image for linux/arch.
func checkAttestedIndexFor(t *testing.T, idx v1.ImageIndex, img v1.Image, arch string, names ...string) {
	t.Helper()
	want, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != types.OCIImageIndex || len(im.Manifests) != 2 {
		t.Fatalf("index %s with %d manifests, want an OCI index of 2", im.MediaType, len(im.Manifests))
	}
	imgDesc, attDesc := im.Manifests[0], im.Manifests[1]
	if imgDesc.Digest != want || imgDesc.Platform == nil || imgDesc.Platform.OS != "linux" || imgDesc.Platform.Architecture != arch {
		t.Errorf("image entry %+v, want %s linux/%s", imgDesc, want, arch)
	}
	if attDesc.MediaType != types.OCIManifestSchema1 || attDesc.Platform == nil ||
		attDesc.Platform.OS != "unknown" || attDesc.Platform.Architecture != "unknown" {
		t.Errorf("attestation entry %+v, want an OCI manifest for unknown/unknown", attDesc)
	}
	if attDesc.Annotations["vnd.docker.reference.type"] != "attestation-manifest" ||
		attDesc.Annotations["vnd.docker.reference.digest"] != want.String() {
		t.Errorf("attestation entry annotations %v", attDesc.Annotations)
	}
	att, err := idx.Image(attDesc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	m, err := att.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != types.OCIConfigJSON || len(m.Layers) != 2 {
		t.Fatalf("attestation manifest %+v", m)
	}
	layers, _ := att.Layers()
	for i, wantType := range []string{attest.PredicateSLSAv1, attest.PredicateSPDX} {
		d := m.Layers[i]
		if d.MediaType != "application/vnd.in-toto+json" || d.Annotations["in-toto.io/predicate-type"] != wantType {
			t.Errorf("layer %d: %s %v, want in-toto %s", i, d.MediaType, d.Annotations, wantType)
		}
		rc, err := layers[i].Compressed()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		var st attest.Statement
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatalf("layer %d: %v\n%s", i, err, b)
		}
		if st.PredicateType != wantType || !strings.HasPrefix(st.Type, "https://in-toto.io/Statement/") {
			t.Errorf("layer %d: statement %s %s", i, st.Type, st.PredicateType)
		}
		var subj []string
		for _, s := range st.Subject {
			if s.Digest["sha256"] != want.Hex {
				t.Errorf("layer %d: subject %s digest %v, want %s", i, s.Name, s.Digest, want)
			}
			subj = append(subj, s.Name)
		}
		if len(subj) != len(names) {
			t.Errorf("layer %d: subjects %v, want %v", i, subj, names)
		}
		for j := range names {
			if j < len(subj) && subj[j] != names[j] {
				t.Errorf("layer %d: subject %q, want %q", i, subj[j], names[j])
			}
		}
	}
}

// attestedIndex is BuildIndex of img alone with its attestations a.
func attestedIndex(t *testing.T, img v1.Image, a Attestations) v1.ImageIndex {
	t.Helper()
	idx, release, err := BuildIndex(testCtx(t), []PlatformImage{{Image: img, Attestations: &a}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	return idx
}

func TestAttestedIndex(t *testing.T) {
	img := pushImage(t, "attest")
	idx := attestedIndex(t, img, testAttestations("reg.example:5000/team/app:1.2", "app"))
	checkAttestedIndex(t, idx, img,
		"pkg:docker/reg.example:5000/team/app@1.2?platform=linux%2Famd64",
		"pkg:docker/app@latest?platform=linux%2Famd64")
	// Without a name the subject is "_".
	idx = attestedIndex(t, img, testAttestations())
	checkAttestedIndex(t, idx, img, "_")
}

// A push with attestations puts an index of the image and its attestation
// manifest at the tag: skopeo --raw shows it, and it reads back.
func TestPushAttested(t *testing.T) {
	reg := testenv.StartRegistry(t)
	ctx := testCtx(t)
	img := pushImage(t, "attested-push")
	p := NewPusher(WithRegistryOptions(registry.WithKeychain(anonymous), registry.WithCertsDir("")))
	ref := reg.Ref("app:att")
	e, ok := p.Exporter([]string{ref}).(AttestingExporter)
	if !ok {
		t.Fatal("push exporter is not an AttestingExporter")
	}
	res, err := e.ExportAttested(ctx, img, testAttestations(ref))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Pushed) != 1 {
		t.Fatalf("pushed %+v", res.Pushed)
	}
	raw := testenv.SkopeoInspect(t, "docker://"+ref, append(reg.SkopeoFlags(""), "--raw")...)
	var im v1.IndexManifest
	if err := json.Unmarshal(raw, &im); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	if im.MediaType != types.OCIImageIndex || len(im.Manifests) != 2 {
		t.Fatalf("skopeo --raw: %s", raw)
	}
	if got := digestOf(raw); got != res.Pushed[0].Digest.String() || res.Pushed[0].Size != int64(len(raw)) {
		t.Errorf("pushed %+v, registry has %s (%d bytes)", res.Pushed[0], got, len(raw))
	}
	want, _ := attestedIndex(t, img, testAttestations(ref)).Digest()
	if res.Pushed[0].Digest != want {
		t.Errorf("pushed %s, index %s", res.Pushed[0].Digest, want)
	}
	checkAttestedIndex(t, remoteIndex(t, ref), img, subjectName(ref, v1.Platform{OS: "linux", Architecture: "amd64"}))
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func remoteIndex(t *testing.T, ref string) v1.ImageIndex {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(r)
	if err != nil {
		t.Fatalf("read index %s: %v", ref, err)
	}
	return idx
}
