package attest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	rpmdb "github.com/knqyf263/go-rpmdb/pkg"

	"github.com/builderdev/builder/internal/testenv"
)

// rpmSpec is a tiny noarch package for rpmbuild; epoch "" for none.
func rpmSpec(name, version, release, epoch string) string {
	s := "Name: " + name + "\nVersion: " + version + "\nRelease: " + release + "\n"
	if epoch != "" {
		s += "Epoch: " + epoch + "\n"
	}
	return s + "Summary: test package\nLicense: MIT\nBuildArch: noarch\n" +
		"%description\ntest package\n" +
		"%install\nmkdir -p %{buildroot}/usr/share/" + name + "\necho " + name + " > %{buildroot}/usr/share/" + name + "/README\n" +
		"%files\n/usr/share/" + name + "/README\n"
}

// rpmSqliteDB builds two rpms with Debian's rpmbuild (rpm 4.18), installs
// them into an empty root with --justdb and returns the rpmdb.sqlite rpm
// wrote there.
func rpmSqliteDB(t *testing.T) []byte {
	t.Helper()
	if _, err := exec.LookPath("rpmbuild"); err != nil {
		t.Skip("rpmbuild not found: install Debian's rpm package (scripts/install-deps.sh does)")
	}
	dir := t.TempDir()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = append(os.Environ(), "HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	top, root := filepath.Join(dir, "top"), filepath.Join(dir, "root")
	var rpms []string
	for _, p := range [][4]string{{"hello-a", "1.2.3", "4.fc40", "2"}, {"hello-b", "0.1", "1", ""}} {
		spec := filepath.Join(dir, p[0]+".spec")
		if err := os.WriteFile(spec, []byte(rpmSpec(p[0], p[1], p[2], p[3])), 0o644); err != nil {
			t.Fatal(err)
		}
		run("rpmbuild", "--quiet", "--define", "_topdir "+top, "--define", "_tmppath "+filepath.Join(dir, "tmp"), "-bb", spec)
		rpms = append(rpms, filepath.Join(top, "RPMS", "noarch", p[0]+"-"+p[1]+"-"+p[2]+".noarch.rpm"))
	}
	run(append([]string{"rpm", "--root", root, "--dbpath", "/var/lib/rpm", "-i", "--nodeps", "--justdb", "--nosignature"}, rpms...)...)
	b, err := os.ReadFile(filepath.Join(root, "var/lib/rpm/rpmdb.sqlite"))
	if err != nil {
		t.Fatalf("rpm wrote no sqlite database: %v", err)
	}
	return b
}

func rpmImage(t *testing.T, osID string, files ...testenv.TarEntry) v1.Image {
	t.Helper()
	files = append(files, reg("etc/os-release", 0o644, "NAME=test\nID="+osID+"\n"))
	img, err := mutate.AppendLayers(empty.Image, layerOf(t, files))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func purls(pkgs []Package) []string {
	var out []string
	for _, p := range pkgs {
		out = append(out, p.PURL()+" "+p.License+" "+p.Source)
	}
	return out
}

func TestScanRPMSqlite(t *testing.T) {
	db := string(rpmSqliteDB(t))
	for _, dir := range []string{"var/lib/rpm", "usr/lib/sysimage/rpm"} {
		t.Run(dir, func(t *testing.T) {
			tmp := t.TempDir()
			pkgs, err := Scan(context.Background(), rpmImage(t, "fedora", reg(dir+"/rpmdb.sqlite", 0o644, db)), tmp)
			if err != nil {
				t.Fatal(err)
			}
			want := []string{
				"pkg:rpm/fedora/hello-a@1.2.3-4.fc40?arch=noarch&epoch=2 MIT /" + dir + "/rpmdb.sqlite",
				"pkg:rpm/fedora/hello-b@0.1-1?arch=noarch MIT /" + dir + "/rpmdb.sqlite",
			}
			if diff := cmp.Diff(want, purls(pkgs)); diff != "" {
				t.Errorf("packages (-want +got):\n%s", diff)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("temp files left: %v", left)
			}
		})
	}
}

// goRPMDBTestdata is go-rpmdb's directory of real BerkeleyDB Packages
// files (CentOS 5 to 8), in the module cache.
func goRPMDBTestdata(t *testing.T) string {
	t.Helper()
	goBin := "go"
	if root := runtime.GOROOT(); root != "" {
		goBin = filepath.Join(root, "bin", "go")
	}
	out, err := exec.Command(goBin, "list", "-m", "-f", "{{.Dir}}", "github.com/knqyf263/go-rpmdb").Output()
	if err != nil {
		t.Fatalf("go list go-rpmdb: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "pkg", "testdata")
	if _, err := os.Stat(filepath.Join(dir, "centos7-plain", "Packages")); err != nil {
		t.Skipf("go-rpmdb's testdata is not in the module cache (go mod download github.com/knqyf263/go-rpmdb): %v", err)
	}
	return dir
}

func TestScanRPMBerkeleyDB(t *testing.T) {
	db, err := os.ReadFile(filepath.Join(goRPMDBTestdata(t), "centos7-plain", "Packages"))
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := Scan(context.Background(), rpmImage(t, "centos", reg("var/lib/rpm/Packages", 0o644, string(db))), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// go-rpmdb's own list for this file (rpmdb_testcase.go, from rpm -qa).
	if len(pkgs) != 144 || len(rpmdb.CentOS7Plain) != 144 {
		t.Errorf("%d packages, want 144", len(pkgs))
	}
	byName := map[string]Package{}
	for _, p := range pkgs {
		byName[p.Name] = p
	}
	for _, want := range []Package{
		{Name: "bash", Version: "4.2.46-30.el7", Arch: "x86_64", License: "GPLv3+"},
		{Name: "openssl-libs", Version: "1.0.2k-12.el7", Epoch: "1", Arch: "x86_64", License: "OpenSSL"},
		{Name: "tzdata", Version: "2018e-3.el7", Arch: "noarch", License: "Public Domain"},
	} {
		want.Kind, want.Source, want.Distro = "rpm", "/var/lib/rpm/Packages", "centos"
		if diff := cmp.Diff(want, byName[want.Name]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", want.Name, diff)
		}
	}
	if got, want := byName["openssl-libs"].PURL(), "pkg:rpm/centos/openssl-libs@1.0.2k-12.el7?arch=x86_64&epoch=1"; got != want {
		t.Errorf("purl %s, want %s", got, want)
	}
}

// TestScanRPMSkipsPubkeys: CentOS 8's database holds two gpg-pubkey
// entries, the imported signing keys, which are not packages.
func TestScanRPMSkipsPubkeys(t *testing.T) {
	db, err := os.ReadFile(filepath.Join(goRPMDBTestdata(t), "centos8-modularitylabel", "Packages"))
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := Scan(context.Background(), rpmImage(t, "centos", reg("var/lib/rpm/Packages", 0o644, string(db))), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	keys := 0
	for _, p := range rpmdb.CentOS8Modularitylabel {
		if p.Name == "gpg-pubkey" {
			keys++
		}
	}
	if keys == 0 || len(pkgs) != len(rpmdb.CentOS8Modularitylabel)-keys {
		t.Errorf("%d packages, want %d (%d gpg-pubkey entries left out)", len(pkgs), len(rpmdb.CentOS8Modularitylabel)-keys, keys)
	}
	for _, p := range pkgs {
		if p.Name == "gpg-pubkey" {
			t.Errorf("listed %s", p.PURL())
		}
	}
}

// TestScanRPMPrefersSqlite: an image holding both databases (rpm's
// conversion leaves Packages behind) lists the sqlite one's packages.
func TestScanRPMPrefersSqlite(t *testing.T) {
	sqlite := string(rpmSqliteDB(t))
	bdb, err := os.ReadFile(filepath.Join(goRPMDBTestdata(t), "centos7-plain", "Packages"))
	if err != nil {
		t.Fatal(err)
	}
	img := rpmImage(t, "fedora", reg("var/lib/rpm/Packages", 0o644, string(bdb)), reg("var/lib/rpm/rpmdb.sqlite", 0o644, sqlite))
	pkgs, err := Scan(context.Background(), img, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 2 || pkgs[0].Source != "/var/lib/rpm/rpmdb.sqlite" {
		t.Errorf("packages %v, want the two of rpmdb.sqlite", purls(pkgs))
	}
}

// sqliteDB writes a database with rpm's Packages table holding blobs,
// made with modernc.org/sqlite (rpmbuild not needed), and returns its path.
func sqliteDB(t *testing.T, blobs ...[]byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rpmdb.sqlite")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, b := range blobs {
		if _, err := db.Exec(`INSERT INTO Packages (blob) VALUES (?)`, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestScanRPMCorrupt(t *testing.T) {
	// Enough rows for the table to span pages that truncation cuts off.
	var blobs [][]byte
	for i := range 50 {
		blobs = append(blobs, headerBlob(str(rpmTagName, fmt.Sprintf("pkg%d-%s", i, strings.Repeat("x", 200))), str(rpmTagVersion, "1"), str(rpmTagRelease, "1")))
	}
	sqlite, err := os.ReadFile(sqliteDB(t, blobs...))
	if err != nil {
		t.Fatal(err)
	}
	if pkgs, err := Scan(context.Background(), rpmImage(t, "fedora", reg("var/lib/rpm/rpmdb.sqlite", 0o644, string(sqlite))), t.TempDir()); err != nil || len(pkgs) != 50 {
		t.Fatalf("the whole database: %d packages, %v", len(pkgs), err)
	}
	half := string(sqlite[:len(sqlite)/2])
	garbage := strings.Repeat("not a database ", 1000)
	for _, c := range []struct{ name, path, body, want string }{
		{"sqlite truncated", "var/lib/rpm/rpmdb.sqlite", half, "read sqlite database"},
		{"sqlite garbage", "var/lib/rpm/rpmdb.sqlite", garbage, "read sqlite database"},
		{"sqlite empty", "var/lib/rpm/rpmdb.sqlite", "", "no Packages table"},
		{"bdb garbage", "var/lib/rpm/Packages", garbage, "bad berkeleydb file"},
		{"bdb empty", "var/lib/rpm/Packages", "", "bad berkeleydb file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tmp := t.TempDir()
			pkgs, err := Scan(context.Background(), rpmImage(t, "fedora", reg(c.path, 0o644, c.body)), tmp)
			if err == nil {
				t.Fatalf("no error; packages %v", purls(pkgs))
			}
			t.Log(err)
			if !strings.Contains(err.Error(), "/"+c.path+": ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want one naming /%s and saying %q", err, c.path, c.want)
			}
			if left, _ := os.ReadDir(tmp); len(left) != 0 {
				t.Errorf("temp files left: %v", left)
			}
		})
	}
	t.Run("too large", func(t *testing.T) {
		_, err := scanRPMDB(context.Background(), strings.NewReader(""), rpmMaxDB+1, "/var/lib/rpm/rpmdb.sqlite", "sqlite", t.TempDir())
		if err == nil || !strings.Contains(err.Error(), "larger than the 512 MiB read") {
			t.Errorf("error %v", err)
		}
	})
}

func TestSqliteRowsDamaged(t *testing.T) {
	// A valid database whose Packages row is not a header.
	err := sqliteBlobs(context.Background(), sqliteDB(t, []byte{0, 0, 0, 1}), func(b []byte) error {
		_, err := parseRPMHeader(b)
		return err
	})
	if !errors.Is(err, errRPMHeader) {
		t.Errorf("error %v, want one wrapping errRPMHeader", err)
	}
}

// TestBDBAgainstGoRPMDB reads every Packages file of go-rpmdb's testdata
// with bdbValues and parseRPMHeader and compares with what go-rpmdb reads.
func TestBDBAgainstGoRPMDB(t *testing.T) {
	dir := goRPMDBTestdata(t)
	files, err := filepath.Glob(filepath.Join(dir, "*", "Packages"))
	if err != nil || len(files) < 10 {
		t.Fatalf("testdata %v, %v", files, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(filepath.Dir(file)), func(t *testing.T) {
			db, err := rpmdb.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := db.ListPackages()
			if err != nil {
				t.Fatal(err)
			}
			var want []rpmHeader
			for _, p := range theirs {
				h := rpmHeader{Name: p.Name, Version: p.Version, Release: p.Release, Arch: p.Arch, License: p.License, SourceRPM: p.SourceRpm, Epoch: strconv.Itoa(p.Epoch)}
				want = append(want, h)
			}
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			var got []rpmHeader
			err = bdbValues(context.Background(), f, fi.Size(), func(b []byte) error {
				h, err := parseRPMHeader(b)
				if h.Epoch == "" {
					h.Epoch = "0" // go-rpmdb does not tell a missing epoch from 0
				}
				if h.SourceRPM == "(none)" {
					h.SourceRPM = ""
				}
				if h.License == "(none)" {
					h.License = ""
				}
				got = append(got, h)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("packages (-go-rpmdb +ours):\n%s", diff)
			}
		})
	}
}
