package attest

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"io"
	"net/url"
	"strings"
)

// Package is one package the SBOM lists.
type Package struct {
	Name string
	// Version is rpm's VERSION-RELEASE for an rpm.
	Version string
	// Epoch is an rpm's EPOCH, "" when it has none.
	Epoch   string
	Arch    string
	License string
	// Kind is "deb", "apk", "rpm" or "golang".
	Kind string
	// Source is the file it was found in, from the image root ("/var/lib/dpkg/status").
	Source string
	// Distro is the os-release ID for deb, apk and rpm ("debian", "alpine", "fedora").
	Distro string
}

// PURL is the package URL of p.
func (p Package) PURL() string {
	switch p.Kind {
	case "golang":
		return "pkg:golang/" + p.Name + "@" + url.PathEscape(p.Version)
	case "deb", "apk":
		distro := p.Distro
		if distro == "" {
			distro = map[string]string{"deb": "debian", "apk": "alpine"}[p.Kind]
		}
		s := "pkg:" + p.Kind + "/" + distro + "/" + url.PathEscape(p.Name) + "@" + url.PathEscape(p.Version)
		if p.Arch != "" {
			s += "?arch=" + url.QueryEscape(p.Arch)
		}
		return s
	case "rpm":
		// The namespace is the vendor; without an os-release it is left
		// out rather than guessed (the purl spec makes it optional).
		s := "pkg:rpm/"
		if p.Distro != "" {
			s += url.PathEscape(p.Distro) + "/"
		}
		s += url.PathEscape(p.Name) + "@" + url.PathEscape(p.Version)
		q := url.Values{}
		if p.Arch != "" {
			q.Set("arch", p.Arch)
		}
		if p.Epoch != "" {
			q.Set("epoch", p.Epoch)
		}
		if len(q) > 0 {
			s += "?" + q.Encode() // sorted by key, as the spec asks
		}
		return s
	}
	return ""
}

// parseDpkg reads a dpkg status database (or one file of status.d/):
// paragraphs of "Field: value" lines. Packages whose Status is not
// installed (removed, config files only) are left out; a status.d file has
// no Status field and is installed.
func parseDpkg(r io.Reader, src string) ([]Package, error) {
	var out []Package
	err := paragraphs(r, func(f map[string]string) {
		if f["Package"] == "" {
			return
		}
		if st, ok := f["Status"]; ok && !strings.HasSuffix(strings.TrimSpace(st), " installed") {
			return
		}
		out = append(out, Package{Name: f["Package"], Version: f["Version"], Arch: f["Architecture"], Kind: "deb", Source: src})
	})
	return out, err
}

// paragraphs calls fn with the fields of each blank-line separated
// paragraph of r; continuation lines (starting with a space) are skipped.
func paragraphs(r io.Reader, fn func(map[string]string)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	f := map[string]string{}
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			if len(f) > 0 {
				fn(f)
				f = map[string]string{}
			}
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			f[k] = strings.TrimSpace(v)
		}
	}
	if len(f) > 0 {
		fn(f)
	}
	return sc.Err()
}

// parseApk reads apk's installed database: paragraphs of one-letter keys
// (P name, V version, A arch, L license).
func parseApk(r io.Reader, src string) ([]Package, error) {
	var out []Package
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	var cur Package
	flush := func() {
		if cur.Name != "" {
			cur.Kind, cur.Source = "apk", src
			out = append(out, cur)
		}
		cur = Package{}
	}
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			flush()
			continue
		}
		if len(line) < 2 || line[1] != ':' {
			continue
		}
		v := line[2:]
		switch line[0] {
		case 'P':
			cur.Name = v
		case 'V':
			cur.Version = v
		case 'A':
			cur.Arch = v
		case 'L':
			cur.License = v
		}
	}
	flush()
	return out, sc.Err()
}

// goModules reads the module list of the Go binary in r; nil if r is not
// a Go binary. The main module is listed too (with its version, which is
// "(devel)" for a binary built from a checkout), and the Go toolchain as
// stdlib.
func goModules(r io.ReaderAt, src string) []Package {
	bi, err := buildinfo.Read(r)
	if err != nil {
		return nil
	}
	out := []Package{{Name: "stdlib", Version: bi.GoVersion, Kind: "golang", Source: src}}
	if bi.Main.Path != "" {
		out = append(out, Package{Name: bi.Main.Path, Version: bi.Main.Version, Kind: "golang", Source: src})
	}
	for _, d := range bi.Deps {
		if d.Replace != nil {
			d = d.Replace
		}
		out = append(out, Package{Name: d.Path, Version: d.Version, Kind: "golang", Source: src})
	}
	return out
}

// osReleaseID is the ID= of an os-release file.
func osReleaseID(b []byte) string {
	for _, line := range bytes.Split(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("ID=")); ok {
			return strings.Trim(string(v), `"'`)
		}
	}
	return ""
}
