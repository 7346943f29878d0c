package attest

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// Scan lists the packages in img's file system, read as one stream of
// its layers with whiteouts applied (mutate.Extract): the dpkg status
// database and status.d/, apk's installed database, rpm's database
// (rpmdb.sqlite, or the BerkeleyDB Packages of older releases when there
// is no rpmdb.sqlite; under /var/lib/rpm or /usr/lib/sysimage/rpm; the
// ndb Packages.db is not read), and every executable ELF file that is a
// Go binary. An rpm database and an ELF file are copied to a temp file in
// tmpDir ("" for the system's) to be read; an rpm database larger than
// 512 MiB, or one that is corrupt, fails the scan with an error naming
// it, since an SBOM silently missing an image's packages would be worse.
// Packages come sorted by kind, name and version.
func Scan(ctx context.Context, img v1.Image, tmpDir string) ([]Package, error) {
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var pkgs []Package
	var distro string
	rpmKinds := map[string]bool{} // the rpm database kinds found
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("scan image: %w", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		p := path.Clean("/" + h.Name)
		var found []Package
		switch {
		case p == "/etc/os-release" || (p == "/usr/lib/os-release" && distro == ""):
			b, err := io.ReadAll(io.LimitReader(tr, 64*1024))
			if err != nil {
				return nil, fmt.Errorf("scan image: read %s: %w", p, err)
			}
			if id := osReleaseID(b); id != "" {
				distro = id
			}
		case p == "/var/lib/dpkg/status" || path.Dir(p) == "/var/lib/dpkg/status.d":
			if found, err = parseDpkg(tr, p); err != nil {
				return nil, fmt.Errorf("scan image: read %s: %w", p, err)
			}
		case p == "/lib/apk/db/installed":
			if found, err = parseApk(tr, p); err != nil {
				return nil, fmt.Errorf("scan image: read %s: %w", p, err)
			}
		case rpmDBKind(p) != "":
			kind := rpmDBKind(p)
			if found, err = scanRPMDB(ctx, tr, h.Size, p, kind, tmpDir); err != nil {
				return nil, fmt.Errorf("scan image: read %s: %w", p, err)
			}
			rpmKinds[kind] = true
		case h.Mode&0o111 != 0 && h.Size > 4:
			if found, err = scanBinary(tr, p, tmpDir); err != nil {
				return nil, fmt.Errorf("scan image: read %s: %w", p, err)
			}
		}
		pkgs = append(pkgs, found...)
	}
	if rpmKinds["sqlite"] && rpmKinds["bdb"] {
		// A BerkeleyDB left behind by rpm's conversion to sqlite is stale.
		pkgs = slices.DeleteFunc(pkgs, func(p Package) bool { return p.Kind == "rpm" && rpmDBKind(p.Source) == "bdb" })
	}
	for i := range pkgs {
		if pkgs[i].Kind != "golang" {
			pkgs[i].Distro = distro
		}
	}
	sort.SliceStable(pkgs, func(i, j int) bool {
		a, b := pkgs[i], pkgs[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Source < b.Source
	})
	return pkgs, nil
}

// scanBinary reads the Go module list of r if it is an ELF file. Only an
// ELF file is copied to disk.
func scanBinary(r io.Reader, name, tmpDir string) ([]Package, error) {
	br := bufio.NewReader(r)
	magic, err := br.Peek(4)
	if err != nil || string(magic) != "\x7fELF" {
		return nil, nil
	}
	f, err := os.CreateTemp(tmpDir, "sbom-elf-*")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := io.Copy(f, br); err != nil {
		return nil, err
	}
	return goModules(f, name), nil
}

// SBOMOptions names the SBOM document.
type SBOMOptions struct {
	Name    string    // the document name: the image's name, or "image"
	Created time.Time // the creation time (SOURCE_DATE_EPOCH or now)
	Tool    string    // "builder-VERSION"
}

// SBOM returns the SPDX 2.3 JSON document listing pkgs, the predicate of
// an https://spdx.dev/Document statement.
func SBOM(pkgs []Package, o SBOMOptions) (Predicate, error) {
	if o.Name == "" {
		o.Name = "image"
	}
	if o.Tool == "" {
		o.Tool = "builder"
	}
	doc := spdxDoc{
		SPDXVersion: "SPDX-2.3", DataLicense: "CC0-1.0", SPDXID: "SPDXRef-DOCUMENT", Name: o.Name,
		CreationInfo: spdxCreation{Created: o.Created.UTC().Format(time.RFC3339), Creators: []string{"Tool: " + o.Tool}},
		Packages:     []spdxPackage{},
	}
	h := sha256.New()
	seen := map[string]int{}
	for _, p := range pkgs {
		purl := p.PURL()
		fmt.Fprintf(h, "%d:%s%d:%s", len(purl), purl, len(p.Source), p.Source)
		id := "SPDXRef-Package-" + p.Kind + "-" + spdxIDChars.ReplaceAllString(p.Name, "-")
		if n := seen[id]; n > 0 {
			seen[id]++
			id = fmt.Sprintf("%s-%d", id, n)
		} else {
			seen[id] = 1
		}
		lic := "NOASSERTION"
		if p.License != "" {
			lic = p.License
		}
		doc.Packages = append(doc.Packages, spdxPackage{
			Name: p.Name, SPDXID: id, VersionInfo: p.Version, DownloadLocation: "NOASSERTION",
			LicenseConcluded: "NOASSERTION", LicenseDeclared: lic,
			SourceInfo:   "acquired package info from " + p.Source,
			ExternalRefs: []spdxRef{{Category: "PACKAGE-MANAGER", Type: "purl", Locator: purl}},
		})
		doc.Relationships = append(doc.Relationships, spdxRelationship{Element: "SPDXRef-DOCUMENT", Type: "DESCRIBES", Related: id})
	}
	doc.DocumentNamespace = "https://builder.invalid/spdx/" + strings.ToLower(spdxIDChars.ReplaceAllString(o.Name, "-")) +
		"-" + hex.EncodeToString(h.Sum(nil))[:32]
	b, err := json.Marshal(doc)
	if err != nil {
		return Predicate{}, fmt.Errorf("make sbom: %w", err)
	}
	return Predicate{Statement: StatementV01, Type: PredicateSPDX, Data: b}, nil
}

var spdxIDChars = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

type spdxDoc struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreation       `json:"creationInfo"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships,omitempty"`
}

type spdxCreation struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	Name             string    `json:"name"`
	SPDXID           string    `json:"SPDXID"`
	VersionInfo      string    `json:"versionInfo,omitempty"`
	DownloadLocation string    `json:"downloadLocation"`
	FilesAnalyzed    bool      `json:"filesAnalyzed"`
	LicenseConcluded string    `json:"licenseConcluded"`
	LicenseDeclared  string    `json:"licenseDeclared"`
	SourceInfo       string    `json:"sourceInfo,omitempty"`
	ExternalRefs     []spdxRef `json:"externalRefs"`
}

type spdxRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type spdxRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}
