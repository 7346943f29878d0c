package main

import (
	"strings"
	"testing"
)

// Provenance is mode=min by default on a push only (as buildx), unless
// BUILDX_NO_DEFAULT_ATTESTATIONS is set; --sbom takes true or false.
func TestAttestFlags(t *testing.T) {
	for _, tc := range []struct {
		name      string
		o         attestOptions
		push      bool
		noDefault string
		prov      string // "" none, else mode/version
		sbom      bool
		err       string
	}{
		{name: "no push, no flags"},
		{name: "push default", push: true, prov: "min/v1"},
		{name: "push, no default", push: true, noDefault: "1"},
		{name: "push, false", o: attestOptions{provenance: "false"}, push: true},
		{name: "max without push", o: attestOptions{provenance: "mode=max,version=v0.2"}, prov: "max/v0.2"},
		{name: "explicit beats no default", o: attestOptions{provenance: "true"}, push: true, noDefault: "true", prov: "min/v1"},
		{name: "sbom", o: attestOptions{sbom: "true"}, sbom: true},
		{name: "sbom false", o: attestOptions{sbom: "false"}},
		{name: "bad sbom", o: attestOptions{sbom: "yes please"}, err: "invalid --sbom"},
		{name: "bad provenance", o: attestOptions{provenance: "mode=all"}, err: "invalid --provenance"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := tc.o.parse(tc.push, tc.noDefault)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if a.Provenance != nil {
				got = a.Provenance.Mode + "/" + a.Provenance.Version
			}
			if got != tc.prov || a.SBOM != tc.sbom {
				t.Errorf("provenance %q sbom %v, want %q %v", got, a.SBOM, tc.prov, tc.sbom)
			}
		})
	}
}
