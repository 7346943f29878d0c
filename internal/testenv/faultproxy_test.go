package testenv

import (
	"errors"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// Each fault looks to a client the way the real failure does, and one
// seed gives one fault sequence.
func TestFaultProxy(t *testing.T) {
	reg := StartRegistry(t)
	PushBusybox(t, reg)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	get := func(p *FaultProxy, path string) (*http.Response, []byte, error) {
		req, err := http.NewRequest(http.MethodGet, "http://"+p.Host()+path, nil)
		if err != nil {
			return nil, nil, err
		}
		req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json")
		resp, err := client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp, body, err
	}

	// No faults: the registry's answers pass unchanged.
	p := StartFaultProxy(t, reg, 0)
	resp, body, err := get(p, "/v2/busybox/manifests/latest")
	if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "layers") {
		t.Fatalf("through the proxy: %v %v %s", resp, err, body)
	}
	manifest := len(body)

	// Every request broken: each kind shows as what it imitates.
	p = StartFaultProxy(t, reg, 1, WithFaultSeed(7), WithRetryAfter(3))
	seen := map[string]bool{}
	for i := 0; i < 60; i++ {
		resp, body, err := get(p, "/v2/busybox/manifests/latest")
		switch {
		case err != nil && resp == nil:
			seen["reset"] = true
		case err != nil && errors.Is(err, io.ErrUnexpectedEOF):
			if len(body) != manifest/2 {
				t.Errorf("cut body: %d bytes, want half of %d", len(body), manifest)
			}
			seen["cut-body"] = true
		case err != nil:
			t.Errorf("unexpected error %v", err)
		case resp.StatusCode == http.StatusTooManyRequests:
			if resp.Header.Get("Retry-After") != "3" {
				t.Errorf("429 with Retry-After %q", resp.Header.Get("Retry-After"))
			}
			seen["429"] = true
		case resp.StatusCode == http.StatusInternalServerError, resp.StatusCode == http.StatusServiceUnavailable:
			if !strings.Contains(string(body), `"errors"`) {
				t.Errorf("%d without a registry error body: %s", resp.StatusCode, body)
			}
			seen[resp.Status[:3]] = true
		default:
			t.Errorf("request %d not broken: %s", i, resp.Status)
		}
	}
	for _, f := range []Fault{FaultReset, Fault500, Fault503, Fault429, FaultCutBody} {
		if !seen[string(f)] {
			t.Errorf("fault %s never seen by the client (saw %v)", f, seen)
		}
	}
	if p.Requests() != 60 {
		t.Errorf("Requests() = %d, want 60", p.Requests())
	}

	// The same seed, the same faults.
	q := StartFaultProxy(t, reg, 1, WithFaultSeed(7))
	for i := 0; i < 60; i++ {
		get(q, "/v2/busybox/manifests/latest")
	}
	if !reflect.DeepEqual(p.Log(), q.Log()) {
		t.Errorf("seed 7 gave two fault sequences:\n%v\n%v", p.Log(), q.Log())
	}
}
