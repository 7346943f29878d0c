package e2e_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
	"github.com/builderdev/builder/snapshot"
)

// runUnsupported matches how builder says it cannot run RUN steps here.
var runUnsupported = regexp.MustCompile(`(?i)\bRUN\b[^\n]*(not (yet )?supported|unsupported|not implemented)`)

func TestCases(t *testing.T) {
	for _, dir := range caseDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			testenv.LeakCheck(t)
			runCase(t, dir, loadCase(t, dir))
		})
	}
}

func runCase(t *testing.T, dir string, c *Case) {
	ctxDir := prepareContext(t, dir, c)
	busybox := testenv.BusyboxLayout(t)
	vars := map[string]string{"${CASE}": dir, "${CONTEXT}": ctxDir, "${BUSYBOX}": busybox}
	if c.needs("registry") {
		reg := testenv.StartRegistry(t)
		testenv.PushBusybox(t, reg)
		vars["${REGISTRY}"] = reg.Host()
	}
	out := filepath.Join(t.TempDir(), "image.tar")
	args := []string{"--root", newRoot(t), "build", "--progress", "plain",
		"-f", filepath.Join(dir, "Dockerfile"), "-o", "type=oci,dest=" + out}
	if !c.NoBusybox {
		args = append(args, "--build-context", "busybox=oci-layout://"+busybox+":latest")
	}
	for _, a := range c.Args {
		for k, v := range vars {
			a = strings.ReplaceAll(a, k, v)
		}
		args = append(args, a)
	}
	args = append(args, ctxDir)
	r := runBuilder(t, runOpts{}, args...)
	if r.code != 0 && c.needs("run") && runUnsupported.MatchString(r.stderr) {
		t.Skipf("RUN is not supported by this builder yet:\n%s", lastLines(r.stderr, 3))
	}
	if c.Fail != nil {
		checkFailure(t, c.Fail, r)
		return
	}
	if r.code != 0 {
		t.Fatalf("build failed:\n%s", r)
	}
	layout := testenv.ExtractTar(t, out)
	img := testenv.ReadLayout(t, layout, "")
	checkImage(t, c, img)
	if c.Run != nil {
		testenv.TagLayout(t, layout, "e2e")
		bundle := testenv.UmociUnpack(t, layout, "e2e")
		stdout, code := testenv.RunRunc(t, bundle, c.Run.Args...)
		if stdout != c.Run.Stdout || code != c.Run.Exit {
			t.Errorf("running the image: output %q exit %d; want %q exit %d", stdout, code, c.Run.Stdout, c.Run.Exit)
		}
	}
}

func checkFailure(t *testing.T, f *FailExpect, r result) {
	t.Helper()
	if r.code == 0 {
		t.Fatalf("build succeeded, want failure:\n%s", r)
	}
	if f.Exit != 0 && r.code != f.Exit {
		t.Errorf("exit status %d, want %d:\n%s", r.code, f.Exit, r)
	}
	if len(f.Line) > 0 && !oneLineHasAll(r.stderr, f.Line) {
		t.Errorf("no stderr line contains all of %q:\n%s", f.Line, r.stderr)
	}
	for _, s := range f.Stderr {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
		}
	}
	for _, re := range f.StderrRe {
		if !regexp.MustCompile(re).MatchString(r.stderr) {
			t.Errorf("stderr does not match %q:\n%s", re, r.stderr)
		}
	}
}

func oneLineHasAll(text string, subs []string) bool {
next:
	for _, line := range strings.Split(text, "\n") {
		for _, s := range subs {
			if !strings.Contains(line, s) {
				continue next
			}
		}
		return true
	}
	return false
}

// checkImage runs the generic invariants and the case's checks.
func checkImage(t *testing.T, c *Case, img *testenv.Image) {
	t.Helper()
	checkInvariants(t, img)
	for k, want := range c.Config {
		got, ok := img.Config.Config[k]
		if !ok || !jsonEqual(got, want) {
			t.Errorf("config.%s = %s, want %s", k, jsonString(got), jsonString(want))
		}
	}
	for _, k := range c.ConfigAbsent {
		if v, ok := img.Config.Config[k]; ok && v != nil {
			t.Errorf("config.%s = %s, want it absent", k, jsonString(v))
		}
	}
	var top map[string]any
	if err := json.Unmarshal(img.ConfigRaw, &top); err != nil {
		t.Fatalf("decode config: %v", err)
	}
	for k, want := range c.Image {
		if got := top[k]; !jsonEqual(got, want) {
			t.Errorf("image %s = %s, want %s", k, jsonString(got), jsonString(want))
		}
	}
	checkHistory(t, c.History, img.Config.History)
	if c.Layers != nil && len(img.LayerFiles) != *c.Layers {
		t.Errorf("%d layers, want %d", len(img.LayerFiles), *c.Layers)
	}
	if len(c.Files) > 0 || len(c.Absent) > 0 {
		checkFiles(t, c, img.RootFS(t))
	}
	if c.LastLayer != nil {
		if len(img.LayerFiles) == 0 {
			t.Fatalf("no layers, want a last layer")
		}
		f, err := os.Open(img.LayerFiles[len(img.LayerFiles)-1])
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var names []string
		for _, e := range testenv.TarList(t, f) {
			names = append(names, testenv.CleanTarName(e.Header.Name))
		}
		if !sort.StringsAreSorted(names) {
			t.Errorf("last layer entries are not sorted: %q", names)
		}
		sort.Strings(names)
		want := append([]string(nil), c.LastLayer...)
		sort.Strings(want)
		if !reflect.DeepEqual(names, want) {
			t.Errorf("last layer holds %q, want %q", names, want)
		}
	}
	for _, s := range c.NeverContains {
		if bytes.Contains(img.ConfigRaw, []byte(s)) {
			t.Errorf("config contains %q", s)
		}
		for _, lf := range img.LayerFiles {
			if bytes.Contains(uncompressed(t, lf), []byte(s)) {
				t.Errorf("layer %s contains %q", filepath.Base(lf), s)
			}
		}
	}
}

// checkInvariants: what every image must satisfy whatever the case says.
func checkInvariants(t *testing.T, img *testenv.Image) {
	t.Helper()
	if img.Config.OS != "linux" || img.Config.Architecture != goarch() {
		t.Errorf("platform %s/%s, want linux/%s", img.Config.OS, img.Config.Architecture, goarch())
	}
	if img.Config.RootFS.Type != "layers" || len(img.Config.RootFS.DiffIDs) != len(img.LayerFiles) {
		t.Errorf("rootfs %+v for %d layers", img.Config.RootFS, len(img.LayerFiles))
	}
	for i, lf := range img.LayerFiles {
		// builder never writes a layer it cannot extract itself: each layer
		// extracts alone (its hard links name files of the same layer)
		if err := snapshot.Apply(context.Background(), t.TempDir(), bytes.NewReader(uncompressed(t, lf))); err != nil {
			t.Errorf("layer %d does not extract: %v", i, err)
		}
		if i < len(img.Config.RootFS.DiffIDs) {
			if got := fmt.Sprintf("sha256:%x", sha256.Sum256(uncompressed(t, lf))); got != img.Config.RootFS.DiffIDs[i] {
				t.Errorf("layer %d diffID %s, config says %s", i, got, img.Config.RootFS.DiffIDs[i])
			}
		}
	}
	nonEmpty := 0
	for _, h := range img.Config.History {
		if e, _ := h["empty_layer"].(bool); !e {
			nonEmpty++
		}
	}
	if nonEmpty != len(img.LayerFiles) {
		t.Errorf("%d history entries with a layer, %d layers", nonEmpty, len(img.LayerFiles))
	}
}

func checkHistory(t *testing.T, want []HistoryExpect, got []map[string]any) {
	t.Helper()
	if len(want) == 0 {
		return
	}
	if len(got) < len(want) {
		t.Errorf("history has %d entries, want at least %d: %s", len(got), len(want), jsonString(got))
		return
	}
	tail := got[len(got)-len(want):]
	for i, w := range want {
		by, _ := tail[i]["created_by"].(string)
		empty, _ := tail[i]["empty_layer"].(bool)
		if !strings.Contains(by, w.CreatedBy) || empty != w.EmptyLayer {
			t.Errorf("history[-%d] = created_by %q empty_layer %v; want one containing %q, empty_layer %v",
				len(want)-i, by, empty, w.CreatedBy, w.EmptyLayer)
		}
	}
}

func checkFiles(t *testing.T, c *Case, fsys map[string]testenv.TarFile) {
	t.Helper()
	for _, p := range c.Absent {
		if _, ok := fsys[p]; ok {
			t.Errorf("%s exists, want it absent", p)
		}
	}
	names := make([]string, 0, len(c.Files))
	for p := range c.Files {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		want := c.Files[p]
		f, ok := fsys[p]
		if !ok {
			t.Errorf("%s missing", p)
			continue
		}
		h := f.Header
		if want.Type != "" && typeName(h.Typeflag) != want.Type {
			t.Errorf("%s: type %s, want %s", p, typeName(h.Typeflag), want.Type)
		}
		if want.Mode != "" {
			m, err := strconv.ParseInt(want.Mode, 8, 64)
			if err != nil {
				t.Fatalf("%s: bad mode %q in expect.json", p, want.Mode)
			}
			if h.Mode&0o7777 != m {
				t.Errorf("%s: mode %04o, want %04o", p, h.Mode&0o7777, m)
			}
		}
		if want.UID != nil && h.Uid != *want.UID {
			t.Errorf("%s: uid %d, want %d", p, h.Uid, *want.UID)
		}
		if want.GID != nil && h.Gid != *want.GID {
			t.Errorf("%s: gid %d, want %d", p, h.Gid, *want.GID)
		}
		if want.Link != nil {
			got := h.Linkname
			if h.Typeflag == tar.TypeLink {
				got = testenv.CleanTarName(got)
			}
			if got != *want.Link {
				t.Errorf("%s: link %q, want %q", p, got, *want.Link)
			}
		}
		data := string(f.Data)
		if h.Typeflag == tar.TypeLink {
			data = string(fsys[testenv.CleanTarName(h.Linkname)].Data)
		}
		if want.Content != nil && data != *want.Content {
			t.Errorf("%s: content %q, want %q", p, data, *want.Content)
		}
		for _, s := range want.Contains {
			if !strings.Contains(data, s) {
				t.Errorf("%s: content %q lacks %q", p, data, s)
			}
		}
		for _, s := range want.Lacks {
			if strings.Contains(data, s) {
				t.Errorf("%s: content %q has %q", p, data, s)
			}
		}
	}
}

func typeName(f byte) string {
	switch f {
	case tar.TypeReg, tar.TypeRegA:
		return "file"
	case tar.TypeDir:
		return "dir"
	case tar.TypeSymlink:
		return "symlink"
	case tar.TypeLink:
		return "hardlink"
	default:
		return fmt.Sprintf("type %q", f)
	}
}

func uncompressed(t testing.TB, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("gunzip %s: %v", file, err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			t.Fatalf("gunzip %s: %v", file, err)
		}
	}
	return data
}

func jsonEqual(a, b any) bool {
	var x, y any
	_ = json.Unmarshal([]byte(jsonString(a)), &x)
	_ = json.Unmarshal([]byte(jsonString(b)), &y)
	return reflect.DeepEqual(x, y)
}

func jsonString(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
