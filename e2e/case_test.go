package e2e_test

import (
	"archive/tar"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
)

// Case is testdata/dockerfiles/<name>/expect.json: how to build the case and
// which checks apply. Every field is optional; see testdata/dockerfiles/README.md.
type Case struct {
	Description string `json:"description"`
	// Needs lists features the case depends on: "run" (a case skips only
	// when builder reports RUN unsupported), "registry" (a plain registry is
	// started, busybox pushed to it and ${REGISTRY} set).
	Needs []string `json:"needs"`
	// Args are extra `builder build` flags; ${REGISTRY}, ${CASE} (the case
	// dir), ${CONTEXT} (the prepared context) and ${BUSYBOX} (the busybox
	// OCI layout dir) are replaced.
	Args []string `json:"args"`
	// NoBusybox drops the default --build-context busybox=oci-layout://...
	NoBusybox bool `json:"no_busybox"`
	// ContextBusybox materialises the busybox rootfs at this path inside
	// the context (for FROM scratch + COPY cases).
	ContextBusybox string `json:"context_busybox"`
	// ContextTars are tar archives generated into the context: name (ending
	// .tar or .tar.gz) -> entries.
	ContextTars map[string][]TarSpec `json:"context_tars"`
	// ContextDirs are empty directories made in the context.
	ContextDirs []string `json:"context_dirs"`

	Fail *FailExpect `json:"fail"`

	// Config: keys of the image config's "config" object that must equal
	// these JSON values; ConfigAbsent: keys that must be absent or null.
	Config       map[string]any `json:"config"`
	ConfigAbsent []string       `json:"config_absent"`
	// Image: top-level config keys (author, os, architecture...).
	Image map[string]any `json:"image"`
	// History: the last len(History) history entries, in order.
	History []HistoryExpect `json:"history"`
	// Layers: the number of layers, when set.
	Layers *int `json:"layers"`
	// Files: paths (unrooted) in the merged root file system.
	Files map[string]FileExpect `json:"files"`
	// Absent: paths that must not exist in the merged root file system.
	Absent []string `json:"absent"`
	// LastLayer: exactly the paths the last layer holds (sorted), parents
	// and whiteouts included.
	LastLayer []string `json:"last_layer"`
	// NeverContains: strings found in no layer byte and not in the config.
	NeverContains []string `json:"never_contains"`
	// Run: run the image with umoci + runc and check its output.
	Run *RunExpect `json:"run"`
}

// TarSpec is one entry of a generated context tar.
type TarSpec struct {
	Name    string `json:"name"`
	Type    string `json:"type"` // file (default), dir, symlink, hardlink, whiteout
	Mode    string `json:"mode"`
	UID     int    `json:"uid"`
	GID     int    `json:"gid"`
	Content string `json:"content"`
	Link    string `json:"link"`
}

// FailExpect says the build must fail: exit status (0 = any non-zero) and
// substrings all found on one line of stderr.
type FailExpect struct {
	Exit   int      `json:"exit"`
	Line   []string `json:"line"`
	Stderr []string `json:"stderr"` // substrings anywhere in stderr
	// StderrRe are regular expressions stderr must match.
	StderrRe []string `json:"stderr_re"`
}

// HistoryExpect is one history entry: created_by must contain CreatedBy.
type HistoryExpect struct {
	CreatedBy  string `json:"created_by"`
	EmptyLayer bool   `json:"empty_layer"`
}

// FileExpect checks one path's tar header and content.
type FileExpect struct {
	Type     string   `json:"type"` // file, dir, symlink, hardlink
	Mode     string   `json:"mode"` // octal, special bits included ("4755", "1777")
	UID      *int     `json:"uid"`
	GID      *int     `json:"gid"`
	Content  *string  `json:"content"`
	Contains []string `json:"contains"`
	Lacks    []string `json:"lacks"`
	Link     *string  `json:"link"` // symlink target or hardlink source (cleaned)
}

// RunExpect runs the image (Args override its entrypoint+cmd when given).
type RunExpect struct {
	Args   []string `json:"args"`
	Stdout string   `json:"stdout"`
	Exit   int      `json:"exit"`
}

func (c *Case) needs(what string) bool {
	for _, n := range c.Needs {
		if n == what {
			return true
		}
	}
	return false
}

func loadCase(t testing.TB, dir string) *Case {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "expect.json"))
	if err != nil {
		t.Fatalf("read expect.json: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	var c Case
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("decode %s/expect.json: %v", dir, err)
	}
	return &c
}

// prepareContext copies the case's context/ into a temp dir with
// normalised permissions (0644 files, 0755 executables and dirs, root
// owned, whatever the checkout's umask), then adds generated content.
func prepareContext(t testing.TB, caseDir string, c *Case) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "context")
	mkdir(t, dst, 0o755)
	src := filepath.Join(caseDir, "context")
	if _, err := os.Stat(src); err == nil {
		err := filepath.Walk(src, func(p string, fi os.FileInfo, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(src, p)
			if rel == "." {
				return nil
			}
			target := filepath.Join(dst, rel)
			switch {
			case fi.Mode()&os.ModeSymlink != 0:
				link, err := os.Readlink(p)
				if err != nil {
					return err
				}
				return os.Symlink(link, target)
			case fi.IsDir():
				return os.Mkdir(target, 0o755)
			default:
				data, err := os.ReadFile(p)
				if err != nil {
					return err
				}
				mode := os.FileMode(0o644)
				if fi.Mode()&0o100 != 0 {
					mode = 0o755
				}
				return writeFileMode(target, data, mode)
			}
		})
		if err != nil {
			t.Fatalf("copy context: %v", err)
		}
	}
	for _, d := range c.ContextDirs {
		mkdir(t, filepath.Join(dst, d), 0o755)
	}
	if c.ContextBusybox != "" {
		writeBusyboxRootfs(t, filepath.Join(dst, c.ContextBusybox))
	}
	for name, specs := range c.ContextTars {
		writeContextTar(t, filepath.Join(dst, name), specs)
	}
	// Fix mtimes too so nothing depends on checkout time.
	_ = filepath.Walk(dst, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			_ = lchtimes(p)
		}
		return nil
	})
	return dst
}

// writeBusyboxRootfs materialises the busybox image's entries on disk.
func writeBusyboxRootfs(t testing.TB, dir string) {
	t.Helper()
	mkdir(t, dir, 0o755)
	for _, e := range testenv.BusyboxEntries(t) {
		h := e.Header
		p := filepath.Join(dir, filepath.FromSlash(testenv.CleanTarName(h.Name)))
		var err error
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
			if err == nil {
				err = os.Chmod(p, os.FileMode(h.Mode&0o777)|specialBits(h.Mode))
			}
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, p)
		default:
			err = writeFileMode(p, e.Body, os.FileMode(h.Mode&0o777))
		}
		if err == nil {
			err = os.Lchown(p, h.Uid, h.Gid)
		}
		if err != nil {
			t.Fatalf("write busybox rootfs %s: %v", h.Name, err)
		}
	}
}

func writeContextTar(t testing.TB, file string, specs []TarSpec) {
	t.Helper()
	var entries []testenv.TarEntry
	for _, s := range specs {
		h := tar.Header{Name: s.Name, Uid: s.UID, Gid: s.GID, ModTime: testenv.Epoch(), Linkname: s.Link}
		mode, err := strconv.ParseInt(s.Mode, 8, 64)
		if err != nil {
			t.Fatalf("context tar %s: mode %q: %v", file, s.Mode, err)
		}
		h.Mode = mode
		switch s.Type {
		case "", "file":
			h.Typeflag = tar.TypeReg
		case "dir":
			h.Typeflag = tar.TypeDir
		case "symlink":
			h.Typeflag = tar.TypeSymlink
		case "hardlink":
			h.Typeflag = tar.TypeLink
		case "whiteout": // an empty file named as given (.wh.* or .wh..wh..opq)
			h.Typeflag = tar.TypeReg
		default:
			t.Fatalf("context tar %s: unknown type %q", file, s.Type)
		}
		entries = append(entries, testenv.TarEntry{Header: h, Body: []byte(s.Content)})
	}
	data := testenv.BuildTar(t, entries)
	if strings.HasSuffix(file, ".gz") {
		data = gzipBytes(t, data)
	}
	mkdir(t, filepath.Dir(file), 0o755)
	if err := writeFileMode(file, data, 0o644); err != nil {
		t.Fatalf("write %s: %v", file, err)
	}
}

// caseDirs lists testdata/dockerfiles/* that have an expect.json.
func caseDirs(t testing.TB) []string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	matches, err := filepath.Glob(filepath.Join(root, "testdata", "dockerfiles", "*", "expect.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, m := range matches {
		dirs = append(dirs, filepath.Dir(m))
	}
	sort.Strings(dirs)
	if len(dirs) == 0 {
		t.Fatal("no cases under testdata/dockerfiles")
	}
	return dirs
}
