package build_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/builderdev/builder/build"
	"github.com/builderdev/builder/exporter"
	"github.com/builderdev/builder/internal/attest"
	"github.com/builderdev/builder/internal/testenv"
	"github.com/builderdev/builder/solver"
)

// oneImageExporter takes single images only.
type oneImageExporter struct{}

func (oneImageExporter) Export(context.Context, v1.Image) (exporter.Result, error) {
	return exporter.Result{}, nil
}

// TestRunPlatforms: a 2-platform build is tagged in the store as an index
// of both images, Digest is the index's; an exporter that cannot take
// several platforms fails the build.
func TestRunPlatforms(t *testing.T) {
	ctxDir := writeContext(t, map[string]string{"hello.txt": "hi\n"})
	req := request(t, ctxDir, "FROM scratch\nARG TARGETARCH\nCOPY hello.txt /hello-$TARGETARCH\n")
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		pp, err := solver.ParsePlatform(p)
		if err != nil {
			t.Fatal(err)
		}
		req.Platforms = append(req.Platforms, pp)
	}
	st := openStore(t)
	res := run(t, req, st, build.WithTags("multi"))
	want, err := res.Index.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest != want || len(res.Platforms) != 2 {
		t.Fatalf("digest %s, index %s, %d platforms", res.Digest, want, len(res.Platforms))
	}
	imgs, err := st.Images(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 1 || imgs[0].Digest != want || strings.Join(imgs[0].Platforms, ",") != "linux/amd64,linux/arm64" {
		t.Errorf("store images %+v", imgs)
	}
	for i, pi := range build.PlatformImages(res.Result) {
		cfg, err := pi.Image.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		arch := []string{"amd64", "arm64"}[i]
		if pi.Platform.Architecture != arch || cfg.Architecture != arch || !strings.Contains(cfg.History[1].CreatedBy, "/hello-"+arch) {
			t.Errorf("platform %d: %+v, config %s, history %q", i, pi.Platform, cfg.Architecture, cfg.History[1].CreatedBy)
		}
	}
	_, err = build.Run(testCtx(t), req, build.WithStore(st), build.WithExporters(oneImageExporter{}))
	if err == nil || !strings.Contains(err.Error(), "cannot write a multi-platform build") {
		t.Errorf("a single-image exporter: %v", err)
	}
}

// TestRunPlatformAttestations: a 2-platform build with attestations pushes
// an index of both images followed by one attestation manifest per
// platform (BuildKit's layout), each referring to its platform's manifest,
// with provenance naming that platform and an SBOM; the OCI tar carries
// them too; the local store and type=local have the images alone, and the
// build says so.
func TestRunPlatformAttestations(t *testing.T) {
	reg := testenv.StartRegistry(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("REGISTRY_AUTH_FILE", "")
	ctxDir := writeContext(t, map[string]string{"hello.txt": "hi\n"})
	req := request(t, ctxDir, "FROM scratch\nARG TARGETARCH\nCOPY hello.txt /hello-$TARGETARCH\n")
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		pp, err := solver.ParsePlatform(p)
		if err != nil {
			t.Fatal(err)
		}
		req.Platforms = append(req.Platforms, pp)
	}
	ref := reg.Ref("multi:att")
	ociTar := filepath.Join(t.TempDir(), "multi.tar")
	rep := &events{}
	res := run(t, req, openStore(t), build.WithReporter(rep), build.WithTags("multi:att"),
		build.WithExporters(exporter.NewPusher().Exporter([]string{ref}), exporter.NewOCITar(exporter.File(ociTar), "multi:att"),
			exporter.NewLocalDir(filepath.Join(t.TempDir(), "out"))),
		build.WithAttestations(build.Attest{Provenance: &attest.ProvenanceOptions{Mode: attest.ModeMin}, SBOM: true}))

	raw := testenv.SkopeoInspect(t, "docker://"+ref, append(reg.SkopeoFlags(""), "--raw")...)
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Manifests) != 4 || len(res.Pushed) != 1 || res.Digest != res.Pushed[0].Digest {
		t.Fatalf("pushed %+v (result %s):\n%s", res.Pushed, res.Digest, raw)
	}
	for i, arch := range []string{"amd64", "arm64"} {
		img, att := idx.Manifests[i], idx.Manifests[2+i]
		if img.Platform == nil || img.Platform.Architecture != arch {
			t.Errorf("entry %d: %+v, want linux/%s", i, img, arch)
		}
		if att.Platform == nil || att.Platform.OS != "unknown" || att.Annotations["vnd.docker.reference.type"] != "attestation-manifest" ||
			att.Annotations["vnd.docker.reference.digest"] != img.Digest.String() {
			t.Errorf("attestation entry %d: %+v, want one for %s", 2+i, att, img.Digest)
		}
		r, err := name.ParseReference(reg.Ref("multi@"+att.Digest.String()), name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		am, err := remote.Image(r)
		if err != nil {
			t.Fatal(err)
		}
		layers, _ := am.Layers()
		if len(layers) != 2 {
			t.Fatalf("attestation manifest of %s: %d layers", arch, len(layers))
		}
		for j, want := range []string{`"targetPlatform":"linux/` + arch, `"spdxVersion":"SPDX-2.3"`} {
			rc, err := layers[j].Uncompressed()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			if !strings.Contains(string(b), want) || !strings.Contains(string(b), img.Digest.Hex) ||
				!strings.Contains(string(b), "platform=linux%2F"+arch) {
				t.Errorf("%s statement %d lacks %s, subject %s:\n%s", arch, j, want, img.Digest, b)
			}
		}
	}
	// The OCI tar: index.json -> the index of both images and both
	// attestation manifests.
	var top, tarIdx v1.IndexManifest
	dir := testenv.ExtractTar(t, ociTar)
	readJSON(t, filepath.Join(dir, "index.json"), &top)
	readJSON(t, filepath.Join(dir, "blobs", "sha256", top.Manifests[0].Digest.Hex), &tarIdx)
	if len(tarIdx.Manifests) != 4 || tarIdx.Manifests[0].Digest != idx.Manifests[0].Digest ||
		tarIdx.Manifests[3].Annotations["vnd.docker.reference.digest"] != idx.Manifests[1].Digest.String() {
		t.Errorf("oci tar index %+v", tarIdx.Manifests)
	}
	// The store's tag names the images alone.
	if n, _ := res.Index.IndexManifest(); len(n.Manifests) != 2 {
		t.Errorf("store index %+v", n.Manifests)
	}
	infos := strings.Join(rep.infos(), "\n")
	for _, want := range []string{"attestations: SPDX SBOM of 0 packages (linux/amd64)", "attestations: SPDX SBOM of 0 packages (linux/arm64)",
		"these have the image alone: local dir ", ", the local store (multi:att)"} {
		if !strings.Contains(infos, want) {
			t.Errorf("infos lack %q:\n%s", want, infos)
		}
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
