package build_test

import (
	"context"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/build"
	"github.com/builderdev/builder/exporter"
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
