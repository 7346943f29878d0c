package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/builderdev/builder/build"
	"github.com/builderdev/builder/internal/attest"
)

// attestOptions are the attestation flags of `builder build`.
type attestOptions struct {
	provenance string
	sbom       string
}

func (o *attestOptions) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.provenance, "provenance", "", "attach SLSA provenance to pushed images: true, false, mode=min|max[,version=v1|v0.2][,builder-id=ID] (default mode=min when pushing)")
	fs.StringVar(&o.sbom, "sbom", "", "attach an SPDX SBOM of the image's packages to pushed images: true or false")
}

// parse turns the flags into build.Attest. Like buildx, provenance is on
// (mode=min) by default when the build pushes, unless
// BUILDX_NO_DEFAULT_ATTESTATIONS is set to a true value.
func (o *attestOptions) parse(pushing bool, noDefault string) (build.Attest, error) {
	var a build.Attest
	prov := o.provenance
	if prov == "" && pushing && !isTrue(noDefault) {
		prov = "mode=min"
	}
	if prov != "" {
		p, off, err := attest.ParseProvenance(prov)
		if err != nil {
			return a, err
		}
		if !off {
			a.Provenance = &p
		}
	}
	switch strings.ToLower(o.sbom) {
	case "", "false", "0":
	case "true", "1":
		a.SBOM = true
	default:
		// buildx also takes generator=IMAGE; there is one generator here.
		return a, fmt.Errorf("invalid --sbom %q: want true or false", o.sbom)
	}
	return a, nil
}

func isTrue(s string) bool {
	b, err := strconv.ParseBool(s)
	return err == nil && b
}
