package exporter

import (
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/builderdev/builder/internal/testenv"
	"github.com/builderdev/builder/registry"
)

// faultTries is the test's --registry-retries. At a 30% fault rate a
// request fails 5 times in a row with probability 0.24%, which over the
// ~1800 requests of this test would happen about 4 times; 15 tries (13 in
// practice: the waits, from 20ms and doubling, reach the 2 minute bound
// first) make it 1.6e-7 per request, so that the test does not flake.
const faultTries = 15

// 50 pushes and 50 pulls through a proxy that breaks 30% of the requests
// (resets, 500/503, 429 with Retry-After: 1, cut bodies) all succeed, and
// every pushed tag is the image pushed (checked with skopeo, straight at
// the registry).
func TestPushPullThroughFaults(t *testing.T) {
	reg := testenv.StartRegistry(t)
	p := testenv.StartFaultProxy(t, reg, 0.3)
	ctx := testCtx(t)
	opts := []registry.Option{registry.WithKeychain(anonymous), registry.WithCertsDir(""),
		registry.WithRetry(faultTries, 20*time.Millisecond)}
	const n = 50
	imgs := make([]v1.Image, n)
	digests := make([]v1.Hash, n)
	for i := range imgs {
		imgs[i] = pushImage(t, fmt.Sprintf("fault %d", i))
		d, err := imgs[i].Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests[i] = d
	}
	tag := func(i int) string { return fmt.Sprintf("faults/app%d:v%d", i%5, i) }
	start := time.Now()
	parallel(t, n, 5, func(i int) error {
		got, err := Push(ctx, imgs[i], p.Ref(tag(i)), opts...)
		if err != nil {
			return fmt.Errorf("push %d: %w", i, err)
		}
		if got != digests[i] {
			return fmt.Errorf("push %d returned %s, image is %s", i, got, digests[i])
		}
		if sd := skopeoDigest(t, reg, reg.Ref(tag(i))); sd != got.String() {
			return fmt.Errorf("push %d: skopeo sees %s, pushed %s", i, sd, got)
		}
		return nil
	})
	t.Logf("50 pushes in %s, faults so far %v", time.Since(start).Round(time.Millisecond), p.Faults())
	pushFaults := p.Faults()
	start = time.Now()
	parallel(t, n, 5, func(i int) error {
		return pullAll(t, p.Ref(tag(i)), digests[i], opts)
	})
	t.Logf("50 pulls in %s, faults %v", time.Since(start).Round(time.Millisecond), p.Faults())
	for _, f := range []testenv.Fault{testenv.FaultReset, testenv.Fault500, testenv.Fault503, testenv.Fault429} {
		if pushFaults[f] == 0 {
			t.Errorf("no %s fault during the pushes: the test proves nothing about it", f)
		}
	}
	if p.Faults()[testenv.FaultCutBody] == 0 {
		t.Error("no body was cut: the test proves nothing about it")
	}
}

// pullAll pulls ref through the registry transport and reads every blob
// (each checked against its digest), as a FROM or a cache import does.
func pullAll(t *testing.T, ref string, want v1.Hash, opts []registry.Option) error {
	ctx := testCtx(t)
	r, err := registry.ParseReference(ref, opts...)
	if err != nil {
		return err
	}
	img, err := remote.Image(r, registry.RemoteOptions(ctx, opts...)...)
	if err != nil {
		return fmt.Errorf("pull %s: %w", ref, registry.Wrap(ctx, registry.OpPull, ref, err, opts...))
	}
	if d, err := img.Digest(); err != nil || d != want {
		return fmt.Errorf("pull %s: digest %s (%v), want %s", ref, d, err, want)
	}
	if _, err := img.RawConfigFile(); err != nil {
		return fmt.Errorf("pull %s: config: %w", ref, err)
	}
	ls, err := img.Layers()
	if err != nil {
		return fmt.Errorf("pull %s: layers: %w", ref, err)
	}
	for _, l := range ls {
		err := registry.RetryFetch(ctx, func() error {
			rc, err := l.Compressed()
			if err != nil {
				return err
			}
			defer rc.Close()
			_, err = io.Copy(io.Discard, rc)
			return err
		})
		if err != nil {
			return fmt.Errorf("pull %s: layer: %w", ref, err)
		}
	}
	return nil
}

// parallel runs f(0..n-1), jobs at a time, and fails the test with every
// error.
func parallel(t *testing.T, n, jobs int, f func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, n)
	sem := make(chan struct{}, jobs)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = f(i)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
