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

// A failed push still returns the pushes that finished before it, and
// says which refs of the plan (every exporter of the Pusher, or the refs of
// one Push) were pushed and which not.
func TestPusherPartialResult(t *testing.T) {
	reg := testenv.StartRegistry(t)
	ctx := testCtx(t)
	img := pushImage(t, "partial")
	pu := NewPusher(WithRegistryOptions(registry.WithKeychain(anonymous), registry.WithCertsDir(""), registry.WithRetry(1, 0)))
	ok, bad, third := reg.Ref("app:1"), "127.0.0.1:1/app:1", reg.Ref("app:3")
	first, second := pu.Exporter([]string{ok}), pu.Exporter([]string{bad, third})
	if _, err := first.Export(ctx, img); err != nil {
		t.Fatal(err)
	}
	res, err := second.Export(ctx, img)
	want := "(pushed: " + ok + "; not pushed: " + bad + ", " + third + ")"
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Fatalf("err = %v, want it to end %q", err, want)
	}
	if len(res.Pushed) != 0 {
		t.Errorf("pushed %+v, want none of this exporter's", res.Pushed)
	}

	ok2 := reg.Ref("app:2")
	pushed, err := NewPusher(WithRegistryOptions(registry.WithKeychain(anonymous), registry.WithCertsDir(""), registry.WithRetry(1, 0))).
		Push(ctx, img, []string{ok2, bad})
	if want := "(pushed: " + ok2 + "; not pushed: " + bad + ")"; err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("err = %v, want it to end %q", err, want)
	}
	if len(pushed) != 1 || pushed[0].Ref != ok2 {
		t.Errorf("pushed %+v, want only %s", pushed, ok2)
	}
	// One ref alone: the error as it is.
	if _, err := pu.Push(ctx, img, []string{bad}); err == nil || strings.Contains(err.Error(), "not pushed") {
		t.Errorf("single push: %v", err)
	}
}
