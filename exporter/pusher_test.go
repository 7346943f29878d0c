package exporter

import (
	"strings"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
	"github.com/builderdev/builder/registry"
)

// Exporters of one Pusher share what it pushed: the second push, to
// another repository, mounts every blob the first uploaded. Each push is
// reported as it finishes and returned in the Result.
func TestPusherExportersMountEarlierPushes(t *testing.T) {
	reg := testenv.StartRegistry(t)
	p := newProxy(t, reg)
	ctx := testCtx(t)
	img := pushImage(t, "pusher")
	var reported []Pushed
	pu := NewPusher(WithRegistryOptions(registry.WithKeychain(anonymous), registry.WithCertsDir("")),
		WithPushReport(func(x Pushed) { reported = append(reported, x) }))
	first, second := p.host()+"/library/base:1", p.host()+"/team/app:1"
	r1, err := pu.Exporter([]string{first}).Export(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	before := len(p.requests())
	r2, err := pu.Exporter([]string{second}).Export(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	var mounts, uploads int
	for _, r := range p.requests()[before:] {
		switch {
		case strings.HasPrefix(r, "POST /v2/team/app/blobs/uploads/") && strings.Contains(r, "mount=") && strings.Contains(r, "from=library%2Fbase"):
			mounts++
		case strings.HasPrefix(r, "PATCH ") || strings.HasPrefix(r, "PUT /v2/team/app/blobs/"):
			uploads++
		}
	}
	if mounts != 3 || uploads != 0 {
		t.Errorf("mounts=%d uploads=%d, want 3 and 0; requests:\n%s", mounts, uploads, strings.Join(p.requests()[before:], "\n"))
	}
	want, _ := img.Digest()
	size, _ := img.Size()
	got := append(r1.Pushed, r2.Pushed...)
	if len(got) != 2 || got[0].Ref != first || got[1].Ref != second {
		t.Fatalf("pushed %+v", got)
	}
	for i, x := range got {
		if x.Digest != want || x.Size != size {
			t.Errorf("push %d: %+v, want digest %s size %d", i, x, want, size)
		}
		if i < len(reported) && reported[i] != x {
			t.Errorf("reported %+v, returned %+v", reported[i], x)
		}
	}
	if len(reported) != 2 {
		t.Errorf("%d pushes reported, want 2", len(reported))
	}
	if sd := skopeoDigest(t, reg, reg.Ref("team/app:1")); sd != want.String() {
		t.Errorf("skopeo sees %s, want %s", sd, want)
	}
	if _, err := pu.Exporter(nil).Export(ctx, img); err == nil || !strings.Contains(err.Error(), "no image name") {
		t.Errorf("push with no ref: %v", err)
	}
}

// A failed push still returns the pushes that finished before it.
func TestPusherPartialResult(t *testing.T) {
	reg := testenv.StartRegistry(t)
	ctx := testCtx(t)
	pu := NewPusher(WithRegistryOptions(registry.WithKeychain(anonymous), registry.WithCertsDir(""), registry.WithRetry(1, 0)))
	ok := reg.Ref("app:1")
	res, err := pu.Exporter([]string{ok, "127.0.0.1:1/app:1"}).Export(ctx, pushImage(t, "partial"))
	if err == nil {
		t.Fatal("push to a closed port succeeded")
	}
	if len(res.Pushed) != 1 || res.Pushed[0].Ref != ok {
		t.Errorf("pushed %+v, want only %s", res.Pushed, ok)
	}
}
