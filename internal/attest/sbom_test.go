package attest

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/builderdev/builder/internal/testenv"
)

const dpkgStatus = `Package: base-files
Status: install ok installed
Architecture: amd64
Version: 12.4+deb12u5
Description: Debian base system
 miscellaneous files

Package: libc6
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Version: 2.36-9+deb12u4

Package: removed-pkg
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0
`

const apkInstalled = `C:Q1abc=
P:musl
V:1.2.4-r2
A:x86_64
L:MIT

C:Q1def=
P:busybox
V:1.36.1-r15
A:x86_64
L:GPL-2.0-only
`

func layerOf(t *testing.T, entries []testenv.TarEntry) v1.Layer {
	t.Helper()
	b := testenv.BuildTar(t, entries)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func reg(name string, mode int64, body string) testenv.TarEntry {
	return testenv.TarEntry{Header: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode}, Body: []byte(body)}
}

// sbomImage has a dpkg status file, a status.d entry (removed again by a
// whiteout in the top layer), an apk database, a Go binary and an ELF-less
// executable script.
func sbomImage(t *testing.T) v1.Image {
	t.Helper()
	bin, err := os.ReadFile(testenv.GoBinary(t, t.TempDir(), "hello"))
	if err != nil {
		t.Fatal(err)
	}
	base := layerOf(t, []testenv.TarEntry{
		reg("etc/os-release", 0o644, "PRETTY_NAME=\"Debian GNU/Linux 12\"\nID=debian\n"),
		reg("var/lib/dpkg/status", 0o644, dpkgStatus),
		reg("var/lib/dpkg/status.d/tzdata", 0o644, "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n"),
		reg("var/lib/dpkg/status.d/gone", 0o644, "Package: gone\nVersion: 1\nArchitecture: all\n"),
		reg("lib/apk/db/installed", 0o644, apkInstalled),
		reg("usr/local/bin/script", 0o755, "#!/bin/sh\necho hi\n"),
	})
	top := layerOf(t, []testenv.TarEntry{
		reg("var/lib/dpkg/status.d/.wh.gone", 0o644, ""),
		reg("usr/local/bin/hello", 0o755, string(bin)),
		reg("usr/share/hello.notexec", 0o644, string(bin)),
	})
	img, err := mutate.AppendLayers(empty.Image, base, top)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestScanPackages(t *testing.T) {
	pkgs, err := Scan(context.Background(), sbomImage(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range pkgs {
		if p.Kind == "golang" && p.Name == "stdlib" {
			if !strings.HasPrefix(p.Version, "go1.") {
				t.Errorf("stdlib version %q", p.Version)
			}
			got = append(got, "pkg:golang/stdlib@GO "+p.Source)
			continue
		}
		got = append(got, p.PURL()+" "+p.Source)
	}
	want := []string{
		"pkg:apk/debian/busybox@1.36.1-r15?arch=x86_64 /lib/apk/db/installed",
		"pkg:apk/debian/musl@1.2.4-r2?arch=x86_64 /lib/apk/db/installed",
		"pkg:deb/debian/base-files@12.4+deb12u5?arch=amd64 /var/lib/dpkg/status",
		"pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64 /var/lib/dpkg/status",
		"pkg:deb/debian/tzdata@2024a-0+deb12u1?arch=all /var/lib/dpkg/status.d/tzdata",
		"pkg:golang/example.com/sbomhello@%28devel%29 /usr/local/bin/hello",
		"pkg:golang/github.com/google/go-cmp@v0.7.0 /usr/local/bin/hello",
		"pkg:golang/stdlib@GO /usr/local/bin/hello",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
}

func TestApkPURLUsesAlpine(t *testing.T) {
	p := Package{Name: "musl", Version: "1.2.4-r2", Arch: "x86_64", Kind: "apk", Distro: "alpine"}
	if got, want := p.PURL(), "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64"; got != want {
		t.Errorf("purl %q, want %q", got, want)
	}
	p.Distro = ""
	if got, want := p.PURL(), "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64"; got != want {
		t.Errorf("purl without os-release %q, want %q", got, want)
	}
}

func TestSBOMDocument(t *testing.T) {
	pkgs := []Package{
		{Name: "libc6", Version: "2.36-9", Arch: "amd64", Kind: "deb", Source: "/var/lib/dpkg/status", Distro: "debian"},
		{Name: "musl", Version: "1.2.4-r2", Arch: "x86_64", Kind: "apk", Source: "/lib/apk/db/installed", License: "MIT"},
		{Name: "github.com/google/go-cmp", Version: "v0.7.0", Kind: "golang", Source: "/app"},
	}
	created := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	p, err := SBOM(pkgs, SBOMOptions{Name: "registry.example/app:1", Created: created})
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != PredicateSPDX || p.Statement != StatementV01 {
		t.Errorf("predicate %s in %s", p.Type, p.Statement)
	}
	var doc struct {
		SPDXVersion, DataLicense, SPDXID, Name, DocumentNamespace string
		CreationInfo                                              struct{ Created string }
		Packages                                                  []struct {
			Name, SPDXID, VersionInfo, LicenseDeclared string
			ExternalRefs                               []struct{ ReferenceType, ReferenceLocator string }
		}
		Relationships []struct{ SpdxElementId, RelationshipType, RelatedSpdxElement string }
	}
	if err := json.Unmarshal(p.Data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.DataLicense != "CC0-1.0" || doc.SPDXID != "SPDXRef-DOCUMENT" || doc.Name != "registry.example/app:1" {
		t.Errorf("document header %+v", doc)
	}
	if doc.CreationInfo.Created != "2024-01-02T03:04:05Z" || !strings.HasPrefix(doc.DocumentNamespace, "https://") {
		t.Errorf("created %q namespace %q", doc.CreationInfo.Created, doc.DocumentNamespace)
	}
	if len(doc.Packages) != 3 || len(doc.Relationships) != 3 {
		t.Fatalf("packages %d relationships %d", len(doc.Packages), len(doc.Relationships))
	}
	wantPURL := []string{"pkg:deb/debian/libc6@2.36-9?arch=amd64", "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64", "pkg:golang/github.com/google/go-cmp@v0.7.0"}
	for i, pk := range doc.Packages {
		if len(pk.ExternalRefs) != 1 || pk.ExternalRefs[0].ReferenceType != "purl" || pk.ExternalRefs[0].ReferenceLocator != wantPURL[i] {
			t.Errorf("package %d refs %+v, want purl %s", i, pk.ExternalRefs, wantPURL[i])
		}
		if r := doc.Relationships[i]; r.RelationshipType != "DESCRIBES" || r.RelatedSpdxElement != pk.SPDXID {
			t.Errorf("relationship %d %+v", i, r)
		}
	}
	if doc.Packages[1].LicenseDeclared != "MIT" || doc.Packages[0].LicenseDeclared != "NOASSERTION" {
		t.Errorf("licenses %q %q", doc.Packages[0].LicenseDeclared, doc.Packages[1].LicenseDeclared)
	}
	if doc.Packages[2].SPDXID != "SPDXRef-Package-golang-github.com-google-go-cmp" {
		t.Errorf("SPDXID %q", doc.Packages[2].SPDXID)
	}
}
