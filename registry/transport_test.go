package registry

import (
	"net/http"
	"strings"
	"testing"
)

func TestPushRefusesPlainHTTPToRemoteHosts(t *testing.T) {
	for _, tc := range []struct {
		host     string
		insecure []string
		want     bool
	}{
		{"127.0.0.1:5000", nil, true},
		{"localhost:5000", nil, true},
		{"[::1]:5000", nil, true},
		{"10.0.0.5:5000", nil, false},
		{"registry.example.com", nil, false},
		{"registry.example.com:5000", []string{"registry.example.com:5000"}, true},
		{"registry.example.com:5000", []string{"registry.example.com"}, true},
		{"registry.example.com:5000", []string{"other.example.com"}, false},
	} {
		t.Run(tc.host, func(t *testing.T) {
			if got := plainHTTPAllowed(tc.host, tc.insecure); got != tc.want {
				t.Errorf("plainHTTPAllowed(%q, %q) = %v, want %v", tc.host, tc.insecure, got, tc.want)
			}
		})
	}
	// A real request: plain http to a non-loopback name is refused before
	// anything is sent.
	tr := newRegistryTransport("", nil)
	req, _ := http.NewRequest(http.MethodGet, "http://registry.invalid/v2/", nil)
	if _, err := tr.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "--insecure-registry registry.invalid") {
		t.Errorf("plain http to registry.invalid: %v", err)
	}
}
