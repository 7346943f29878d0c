package e2e_test

import (
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/builderdev/builder/internal/testenv"
)

// Builds whose base image, push and registry cache all go through a proxy
// that breaks 30% of the requests (resets, 500/503, 429 with Retry-After,
// cut bodies) all succeed; every pushed tag is checked with skopeo,
// straight at the registry.
func TestBuildThroughRegistryFaults(t *testing.T) {
	testenv.LeakCheck(t)
	reg := testenv.StartRegistry(t)
	testenv.PushBusybox(t, reg)
	p := testenv.StartFaultProxy(t, reg, 0.3)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "hello.txt"), "hello faults\n")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM "+p.Ref("busybox:latest")+"\nCOPY hello.txt /\n")
	// 10 tries: at 30% faults 5 fail in a row for 0.24% of the requests.
	retry := []string{"--registry-retries", "10", "--registry-retry-wait", "20ms"}
	const builds, caches = 30, 10
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := 0; i < builds; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ref := p.Ref(fmt.Sprintf("e2e/faults:%d", i))
			digestFile := filepath.Join(t.TempDir(), "digest")
			args := append([]string{"--root", newRoot(t), "build", "--progress", "plain", "--push", "-t", ref,
				"--digest-file", digestFile}, retry...)
			if i < caches {
				args = append(args, "--cache-to", "type=registry,ref="+p.Ref(fmt.Sprintf("e2e/cache:%d", i)))
			}
			r := runBuilder(t, runOpts{}, append(args, ctxDir)...)
			mu.Lock()
			defer mu.Unlock()
			if r.code != 0 {
				t.Errorf("build %d through faults failed:\n%s", i, r)
				return
			}
			var inspected struct{ Digest string }
			out := testenv.SkopeoInspect(t, "docker://"+reg.Ref(fmt.Sprintf("e2e/faults:%d", i)), "--tls-verify=false")
			if err := json.Unmarshal(out, &inspected); err != nil {
				t.Error(err)
				return
			}
			if want := strings.TrimSpace(string(testenvRead(t, digestFile))); inspected.Digest != want {
				t.Errorf("build %d: registry has %s, pushed %s", i, inspected.Digest, want)
			}
		}()
	}
	wg.Wait()
	// The exported caches come back through the faults, in fresh roots.
	for i := 0; i < caches; i++ {
		r := runBuilder(t, runOpts{}, append(append([]string{"--root", newRoot(t), "build", "--progress", "plain"}, retry...),
			"--cache-from", "type=registry,ref="+p.Ref(fmt.Sprintf("e2e/cache:%d", i)), ctxDir)...)
		if r.code != 0 || !strings.Contains(r.stderr, "CACHED") {
			t.Errorf("build %d from the registry cache through faults:\n%s", i, r)
		}
	}
	t.Logf("%d requests, faults %v", p.Requests(), p.Faults())
}

// A registry that is down fails the build within the bounded time, with
// an error that says what failed and how often.
func TestBuildRegistryDown(t *testing.T) {
	testenv.LeakCheck(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String()
	l.Close()
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM "+down+"/busybox:latest\n")
	start := time.Now()
	r := runBuilder(t, runOpts{}, "--root", newRoot(t), "build", "--progress", "plain", "--registry-retries", "3", ctxDir)
	took := time.Since(start)
	if r.code == 0 || !strings.Contains(r.stderr, "connection refused") || !strings.Contains(r.stderr, "gave up after 3 tries") {
		t.Errorf("build from a registry that is down:\n%s", r)
	}
	// 3 tries wait 1s and 2s (for https, then http): well within 2 minutes.
	if took > time.Minute {
		t.Errorf("gave up after %s", took)
	}
	t.Logf("gave up after %s", took)
}
