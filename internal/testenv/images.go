package testenv

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Skopeo runs skopeo with args and returns its stdout; it fails the test on
// error, showing stderr.
func Skopeo(t testing.TB, args ...string) []byte {
	t.Helper()
	out, err := SkopeoErr(t, args...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return out
}

// SkopeoErr is Skopeo that returns the error (with stderr) instead of failing.
func SkopeoErr(t testing.TB, args ...string) ([]byte, error) {
	t.Helper()
	NeedTool(t, "skopeo")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "skopeo", args...)
	// Keep skopeo away from the host's registries.conf search and auth files.
	cmd.Env = append(cleanEnv("REGISTRY_AUTH_FILE", "DOCKER_CONFIG"),
		"REGISTRY_AUTH_FILE="+filepath.Join(t.TempDir(), "auth.json"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("skopeo %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// SkopeoInspect runs `skopeo inspect [extra...] transportRef` (for example
// "oci-archive:F", "docker-archive:F", "oci:DIR:tag", "docker://HOST/R:T")
// and returns the JSON it prints. Pass "--config" or "--raw" in extra for
// those views; registry flags come from Registry.SkopeoFlags("").
func SkopeoInspect(t testing.TB, transportRef string, extra ...string) []byte {
	t.Helper()
	args := append(append([]string{"inspect"}, extra...), transportRef)
	return Skopeo(t, args...)
}

// UmociUnpack unpacks layoutDir:tag into a new bundle dir with umoci (as
// root ownership is kept) and returns the bundle dir (rootfs/ and
// config.json inside).
func UmociUnpack(t testing.TB, layoutDir, tag string) string {
	t.Helper()
	NeedTool(t, "umoci")
	bundle := filepath.Join(t.TempDir(), "bundle")
	out, err := exec.Command("umoci", "unpack", "--image", layoutDir+":"+tag, bundle).CombinedOutput()
	if err != nil {
		t.Fatalf("umoci unpack %s:%s: %v\n%s", layoutDir, tag, err, out)
	}
	return bundle
}

// RunRunc runs the bundle's process (the image's entrypoint and cmd, or
// args when given) with runc, terminal off, under a unique container id,
// and returns stdout+stderr and the exit code. The container is always
// deleted.
func RunRunc(t testing.TB, bundle string, args ...string) (string, int) {
	t.Helper()
	return RunRuncTimeout(t, bundle, 2*time.Minute, args...)
}

// RunRuncTimeout is RunRunc with a time limit other than 2 minutes.
func RunRuncTimeout(t testing.TB, bundle string, limit time.Duration, args ...string) (string, int) {
	t.Helper()
	NeedTool(t, "runc")
	cfgFile := filepath.Join(bundle, "config.json")
	raw, err := os.ReadFile(cfgFile)
	if err != nil {
		t.Fatalf("read bundle config: %v", err)
	}
	var spec map[string]any
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatalf("decode bundle config: %v", err)
	}
	proc, _ := spec["process"].(map[string]any)
	if proc == nil {
		t.Fatalf("bundle config has no process")
	}
	proc["terminal"] = false
	if len(args) > 0 {
		proc["args"] = args
	}
	if err := os.WriteFile(cfgFile, mustJSON(t, spec), 0o644); err != nil {
		t.Fatalf("write bundle config: %v", err)
	}
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	id := fmt.Sprintf("testenv-%x", rnd)
	t.Cleanup(func() {
		_ = exec.Command("runc", "delete", "-f", id).Run()
	})
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, "runc", "run", "--bundle", bundle, id)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out.String(), 0
	case errors.As(err, &exit):
		return out.String(), exit.ExitCode()
	default:
		t.Fatalf("runc run: %v\n%s", err, out.String())
		return "", -1
	}
}

// TarFile is one entry of a tar read back: its header and, for regular
// files, its content.
type TarFile struct {
	Header *tar.Header
	Data   []byte
}

// CleanTarName normalises a tar entry name to an unrooted slash path
// without "./" or a trailing slash ("." for the root).
func CleanTarName(name string) string {
	n := path.Clean("/" + name)
	if n == "/" {
		return "."
	}
	return n[1:]
}

// TarHeaders reads a tar (gzip-compressed or not) and returns its headers
// by cleaned name (see CleanTarName). A name that appears twice fails.
func TarHeaders(t testing.TB, r io.Reader) map[string]*tar.Header {
	t.Helper()
	files := TarFiles(t, r)
	out := make(map[string]*tar.Header, len(files))
	for n, f := range files {
		out[n] = f.Header
	}
	return out
}

// TarFiles is TarHeaders with the contents of regular files.
func TarFiles(t testing.TB, r io.Reader) map[string]TarFile {
	t.Helper()
	out := map[string]TarFile{}
	for _, f := range TarList(t, r) {
		n := CleanTarName(f.Header.Name)
		if _, dup := out[n]; dup {
			t.Fatalf("tar has %q twice", n)
		}
		out[n] = f
	}
	return out
}

// TarList reads a tar (gzip-compressed or not) in order.
func TarList(t testing.TB, r io.Reader) []TarFile {
	t.Helper()
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			t.Fatalf("open gzip: %v", err)
		}
		defer zr.Close()
		src = zr
	}
	tr := tar.NewReader(src)
	var out []TarFile
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatalf("read tar: %v", err)
		}
		f := TarFile{Header: h}
		if h.Typeflag == tar.TypeReg {
			if f.Data, err = io.ReadAll(tr); err != nil {
				t.Fatalf("read tar entry %s: %v", h.Name, err)
			}
		}
		out = append(out, f)
	}
}

// MergeLayers applies layer tars in order (bottom first) the way an
// extractor does — whiteouts (.wh.NAME) delete, opaque markers
// (.wh..wh..opq) clear a directory's lower content — and returns the
// resulting file system by cleaned name.
func MergeLayers(t testing.TB, layers ...io.Reader) map[string]TarFile {
	t.Helper()
	fsys := map[string]TarFile{}
	var current map[string]bool // names written by the layer being applied
	removeTree := func(p string, keepSelf bool) {
		for n := range fsys {
			if current[n] {
				continue
			}
			if (p == "." && n != ".") || strings.HasPrefix(n, p+"/") || (!keepSelf && n == p) {
				delete(fsys, n)
			}
		}
	}
	for _, l := range layers {
		current = map[string]bool{}
		for _, f := range TarList(t, l) {
			n := CleanTarName(f.Header.Name)
			dir, base := path.Split(n)
			dir = strings.TrimSuffix(dir, "/")
			if dir == "" {
				dir = "."
			}
			switch {
			case base == ".wh..wh..opq":
				removeTree(dir, true)
			case strings.HasPrefix(base, ".wh."):
				target := path.Join(dir, strings.TrimPrefix(base, ".wh."))
				removeTree(target, false)
			default:
				if old, ok := fsys[n]; ok && !(old.Header.Typeflag == tar.TypeDir && f.Header.Typeflag == tar.TypeDir) {
					removeTree(n, false)
				}
				fsys[n] = f
				current[n] = true
			}
		}
	}
	return fsys
}
