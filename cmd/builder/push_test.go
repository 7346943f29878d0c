package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/spf13/pflag"

	"github.com/builderdev/builder/internal/testenv"
	"github.com/builderdev/builder/store"
)

// runCommand parses args with c's flags, as run() does, and runs it.
func runCommand(t *testing.T, c command, root string, stdin string, args ...string) (string, error) {
	t.Helper()
	g := &globalOptions{root: root}
	fs := pflag.NewFlagSet(c.name, pflag.ContinueOnError)
	g.AddFlags(fs)
	if c.flags != nil {
		c.flags(fs)
	}
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errw bytes.Buffer
	err := c.run(ctx, g, fs.Args(), stdio{in: strings.NewReader(stdin), out: &out, err: &errw})
	return out.String(), err
}

func TestPushLoginLogoutCommands(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.WithBasicAuth("ci", "pa55"))
	certs := t.TempDir()
	if err := os.MkdirAll(filepath.Join(certs, reg.Host()), 0o755); err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(reg.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(certs, reg.Host(), "ca.crt"), ca, 0o644); err != nil {
		t.Fatal(err)
	}
	cfgDir := t.TempDir()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", cfgDir)
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Setenv("XDG_RUNTIME_DIR", "")

	// An image in the local store.
	root := t.TempDir()
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	layer, err := tarball.LayerFromReader(bytes.NewReader(testenv.BuildTar(t, []testenv.TarEntry{
		{Header: tar.Header{Typeflag: tar.TypeReg, Name: "hello", Mode: 0o644, ModTime: testenv.Epoch()}, Body: []byte("hi")},
	})))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Tag(context.Background(), "app:1", img); err != nil {
		t.Fatal(err)
	}
	certsFlag := "--registry-certs=" + certs
	ref := reg.Ref("team/app:1")

	if _, err := runCommand(t, pushCommand(), root, "", certsFlag, "app:1", ref); err == nil ||
		!strings.Contains(err.Error(), `run "builder login `+reg.Host()+`"`) {
		t.Fatalf("push before login: %v", err)
	}
	if _, err := runCommand(t, loginCommand(), root, "wrong\n", certsFlag, "-u", "ci", "--password-stdin", reg.Host()); err == nil ||
		!strings.Contains(err.Error(), "authentication failed: registry "+reg.Host()+" rejected the user name and password") {
		t.Fatalf("login with a wrong password: %v", err)
	}
	if _, err := os.Stat(filepath.Join(cfgDir, "config.json")); !os.IsNotExist(err) {
		t.Fatalf("a failed login wrote the config: %v", err)
	}
	out, err := runCommand(t, loginCommand(), root, "pa55\n", certsFlag, "-u", "ci", "--password-stdin", reg.Host())
	if err != nil || !strings.Contains(out, "Login Succeeded") {
		t.Fatalf("login: %q, %v", out, err)
	}

	dir := t.TempDir()
	digestFile, mdFile := filepath.Join(dir, "digest"), filepath.Join(dir, "md.json")
	out, err = runCommand(t, pushCommand(), root, "", certsFlag, "--digest-file", digestFile, "--metadata-file", mdFile, "app:1", ref)
	if err != nil {
		t.Fatalf("push: %v", err)
	}
	want, _ := img.Digest()
	if !strings.Contains(out, "pushed "+ref+"@"+want.String()+" size: ") {
		t.Errorf("push output %q", out)
	}
	if d, _ := os.ReadFile(digestFile); string(d) != want.String() {
		t.Errorf("digest file %q, want %s", d, want)
	}
	var md map[string]string
	data, _ := os.ReadFile(mdFile)
	if err := json.Unmarshal(data, &md); err != nil || md["containerimage.digest"] != want.String() || md["image.name"] != ref {
		t.Errorf("metadata %s (%v)", data, err)
	}
	var insp struct{ Digest string }
	if err := json.Unmarshal(testenv.SkopeoInspect(t, "docker://"+ref, reg.SkopeoFlags("")...), &insp); err != nil || insp.Digest != want.String() {
		t.Errorf("skopeo sees %q (%v), want %s", insp.Digest, err, want)
	}

	out, err = runCommand(t, logoutCommand(), root, "", reg.Host())
	if err != nil || !strings.Contains(out, "Removing login credentials for "+reg.Host()) {
		t.Fatalf("logout: %q, %v", out, err)
	}
	out, err = runCommand(t, logoutCommand(), root, "", reg.Host())
	if err != nil || !strings.Contains(out, "Not logged in") {
		t.Fatalf("second logout: %q, %v", out, err)
	}
	if _, err := runCommand(t, pushCommand(), root, "", certsFlag, "app:1", reg.Ref("team/app:2")); err == nil {
		t.Fatal("push after logout succeeded")
	}
}

func TestOutputPushRefs(t *testing.T) {
	tags := []string{"reg.example.com/a:1", "reg.example.com/a:latest"}
	for _, tc := range []struct {
		out  output
		want []string
	}{
		{output{typ: "image", attrs: map[string]string{"push": "true"}}, tags},
		{output{typ: "image", attrs: map[string]string{"push": "true", "name": "r.io/x:1,r.io/x:2"}}, []string{"r.io/x:1", "r.io/x:2"}},
		{output{typ: "image", attrs: map[string]string{"name": "r.io/x:1"}}, nil},
		{output{typ: "image", attrs: map[string]string{"push": "false"}}, nil},
		{output{typ: "registry", attrs: map[string]string{}}, tags},
		{output{typ: "registry", attrs: map[string]string{"name": "r.io/y"}}, []string{"r.io/y"}},
		{output{typ: "oci", dest: "x", attrs: map[string]string{"push": "true"}}, nil},
	} {
		t.Run(tc.out.typ+","+tc.out.attrs["push"]+","+tc.out.attrs["name"], func(t *testing.T) {
			got := tc.out.pushRefs(tags)
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("pushRefs = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestBuildPushNeedsName: --push with no -t (nor an output name) fails
// before anything is built or the store is opened, as buildx does.
func TestBuildPushNeedsName(t *testing.T) {
	dir := t.TempDir()
	// A build would fail differently (the source is missing).
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY missing /\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "root")
	build := commands()[0]
	_, err := runCommand(t, build, root, "", "--push", "-q", dir)
	if err == nil || !strings.Contains(err.Error(), "--push needs at least one -t name") {
		t.Fatalf("err = %v, want the missing name", err)
	}
	if _, err := os.Stat(root); !os.IsNotExist(err) {
		t.Errorf("the store was opened (%v)", err)
	}
}
