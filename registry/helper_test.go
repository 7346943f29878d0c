package registry

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/builderdev/builder/internal/testenv"
)

// anonymous is a keychain with no credentials at all, so that tests do
// not depend on the machine's docker config.
var anonymous = authn.NewMultiKeychain()

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func writeFile(t *testing.T, file, content string) {
	t.Helper()
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// certsDirFor lays out DIR/HOST/ca.crt for each host, like
// /etc/docker/certs.d.
func certsDirFor(t *testing.T, caFile string, hosts ...string) string {
	t.Helper()
	dir := t.TempDir()
	ca, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		if err := os.MkdirAll(filepath.Join(dir, h), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, h, "ca.crt"), ca, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// randomImage is a small image with random layers.
func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := random.Image(256, 2)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// write pushes img to ref with the client's options, errors wrapped as
// a push (what exporter.Push does, without its manifest check).
func write(ctx context.Context, img v1.Image, ref string, opts ...Option) error {
	cl := New(opts...)
	r, err := cl.ParseReference(ref)
	if err != nil {
		return err
	}
	return cl.Wrap(ctx, OpPush, ref, remote.Write(r, img, cl.WriteOptions(ctx)...))
}

// skopeoDigest returns the manifest digest skopeo sees for ref.
func skopeoDigest(t *testing.T, reg *testenv.Registry, ref string) string {
	t.Helper()
	out := testenv.SkopeoInspect(t, "docker://"+ref, reg.SkopeoFlags("")...)
	var v struct{ Digest string }
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("decode skopeo inspect: %v\n%s", err, out)
	}
	return v.Digest
}

// wantOneLine checks that err is sentinel, one line, and contains want.
func wantOneLine(t *testing.T, err error, sentinel error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	if !errors.Is(err, sentinel) {
		t.Errorf("error %q is not %v", err, sentinel)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error has several lines: %q", err)
	}
	if !strings.Contains(err.Error(), want) {
		t.Errorf("error %q\nlacks %q", err, want)
	}
}
