package platform

import (
	"fmt"
	"runtime"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Host is this machine's platform, normalised.
func Host() v1.Platform {
	return Normalize(v1.Platform{OS: "linux", Architecture: runtime.GOARCH})
}

// Normalize returns p with containerd's normalisation rules: lower-case os,
// architecture aliases (x86_64, aarch64, i386, armhf, armel) resolved, the
// default variants dropped (amd64/v1, arm64/v8) or added (arm/v7), and
// numeric variants prefixed with "v".
func Normalize(p v1.Platform) v1.Platform {
	q := v1.Platform{OS: strings.ToLower(p.OS), Architecture: strings.ToLower(p.Architecture), Variant: strings.ToLower(p.Variant)}
	switch q.Architecture {
	case "i386":
		q.Architecture, q.Variant = "386", ""
	case "x86_64", "x86-64", "amd64":
		q.Architecture = "amd64"
		if q.Variant == "v1" {
			q.Variant = ""
		}
	case "aarch64", "arm64":
		q.Architecture = "arm64"
		if q.Variant == "8" || q.Variant == "v8" {
			q.Variant = ""
		}
	case "armhf":
		q.Architecture, q.Variant = "arm", "v7"
	case "armel":
		q.Architecture, q.Variant = "arm", "v6"
	case "arm":
		switch q.Variant {
		case "", "7":
			q.Variant = "v7"
		case "5", "6", "8":
			q.Variant = "v" + q.Variant
		}
	}
	return q
}

// Same reports whether a and b name the same platform once normalised.
func Same(a, b v1.Platform) bool {
	a, b = Normalize(a), Normalize(b)
	return a.OS == b.OS && a.Architecture == b.Architecture && a.Variant == b.Variant
}

// String formats p as "os/arch[/variant]".
func String(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Dir is the directory name buildx gives a platform's files in a
// multi-platform local or tar output: "linux_arm64", "linux_arm_v7".
func Dir(p v1.Platform) string { return strings.ReplaceAll(String(p), "/", "_") }

// Select returns the descriptor of want's image in an index manifest. An
// entry without a platform matches only when it is the only entry. When
// nothing matches the error lists the platforms the index has.
func Select(im *v1.IndexManifest, want v1.Platform) (v1.Descriptor, error) {
	var have []string
	for _, d := range im.Manifests {
		if d.Platform == nil {
			if len(im.Manifests) == 1 {
				return d, nil
			}
			continue
		}
		if d.Platform.OS == "unknown" { // attestation manifests
			continue
		}
		if Same(*d.Platform, want) {
			return d, nil
		}
		have = append(have, String(Normalize(*d.Platform)))
	}
	sort.Strings(have)
	return v1.Descriptor{}, &NotFoundError{Want: Normalize(want), Have: have}
}

// NotFoundError is an index without the wanted platform.
type NotFoundError struct {
	Want v1.Platform
	Have []string
}

func (e *NotFoundError) Error() string {
	if len(e.Have) == 0 {
		return fmt.Sprintf("no image for platform %s (the index has no platforms)", String(e.Want))
	}
	return fmt.Sprintf("no image for platform %s (the image has %s)", String(e.Want), strings.Join(e.Have, ", "))
}
