package registry

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/builderdev/builder/internal/testenv"
)

func TestLoginChecksCredentials(t *testing.T) {
	basic := testenv.StartRegistry(t, testenv.WithBasicAuth("alice", "s3cret"))
	token := testenv.StartRegistry(t, testenv.WithTokenAuth("bob", "t0ken-pass"))
	realm, _ := url.Parse(token.TokenRealm)
	certs := certsDirFor(t, basic.CAFile, basic.Host())
	tokenCerts := certsDirFor(t, token.CAFile, token.Host(), realm.Host)
	ctx := testCtx(t)
	for _, tc := range []struct {
		name       string
		reg        *testenv.Registry
		certs      string
		user, pass string
		ok         bool
	}{
		{"basic ok", basic, certs, "alice", "s3cret", true},
		{"basic wrong", basic, certs, "alice", "nope", false},
		{"token ok", token, tokenCerts, "bob", "t0ken-pass", true},
		{"token wrong", token, tokenCerts, "bob", "nope", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Login(ctx, tc.reg.Host(), tc.user, tc.pass, WithCertsDir(tc.certs), WithRetry(1, 0))
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantOneLine(t, err, ErrCredentialsRejected, "login to "+tc.reg.Host()+": authentication failed: registry "+tc.reg.Host()+" rejected the user name and password")
			if !errors.Is(err, ErrAuthentication) {
				t.Errorf("%v is not ErrAuthentication", err)
			}
		})
	}
	t.Run("unknown CA", func(t *testing.T) {
		err := Login(ctx, basic.Host(), "alice", "s3cret", WithCertsDir(""))
		wantOneLine(t, err, ErrUnknownAuthority, "login to "+basic.Host()+": certificate signed by unknown authority")
	})
}

func TestLoginLogoutRoundTrip(t *testing.T) {
	reg := testenv.StartRegistry(t, testenv.WithBasicAuth("alice", "s3cret"))
	certs := certsDirFor(t, reg.CAFile, reg.Host())
	ctx := testCtx(t)
	home := t.TempDir()
	cfgDir := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_CONFIG", cfgDir)
	t.Setenv("REGISTRY_AUTH_FILE", "")
	t.Setenv("XDG_RUNTIME_DIR", "")
	file, err := DockerConfigFile(os.Getenv)
	if err != nil || file != filepath.Join(cfgDir, "config.json") {
		t.Fatalf("DockerConfigFile = %q, %v", file, err)
	}
	// Entries and fields of other tools stay.
	writeFile(t, file, `{"auths":{"other.example.com":{"auth":"eDp5"}},"currentContext":"ci","proxies":{"default":{"noProxy":"*.local"}}}`)
	if err := os.Chmod(file, 0o644); err != nil {
		t.Fatal(err)
	}

	img := randomImage(t)
	ref := reg.Ref("private/app:1")
	if err := write(ctx, img, ref, WithCertsDir(certs), WithRetry(1, 0)); err == nil {
		t.Fatal("push before login succeeded")
	}
	if err := Login(ctx, reg.Host(), "alice", "s3cret", WithCertsDir(certs)); err != nil {
		t.Fatal(err)
	}
	if err := SaveLogin(file, reg.Host(), "alice", "s3cret"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("config mode %o, want 600", fi.Mode().Perm())
	}
	doc := readJSONFile(t, file)
	auths := doc["auths"].(map[string]any)
	if got := auths[reg.Host()].(map[string]any)["auth"]; got != base64.StdEncoding.EncodeToString([]byte("alice:s3cret")) {
		t.Errorf("auth entry %v", got)
	}
	if auths["other.example.com"] == nil || doc["currentContext"] != "ci" || doc["proxies"] == nil {
		t.Errorf("other entries lost: %v", doc)
	}
	// The default keychain (docker config) now has the credentials.
	if err := write(ctx, img, ref, WithCertsDir(certs)); err != nil {
		t.Fatalf("push after login: %v", err)
	}
	if got, _ := img.Digest(); skopeoDigest(t, reg, ref) != got.String() {
		t.Errorf("skopeo sees %s, pushed %s", skopeoDigest(t, reg, ref), got)
	}

	found, err := RemoveLogin(file, reg.Host())
	if err != nil || !found {
		t.Fatalf("RemoveLogin = %v, %v", found, err)
	}
	doc = readJSONFile(t, file)
	auths = doc["auths"].(map[string]any)
	if _, ok := auths[reg.Host()]; ok || auths["other.example.com"] == nil || doc["currentContext"] != "ci" {
		t.Errorf("after logout: %v", doc)
	}
	if found, err := RemoveLogin(file, reg.Host()); err != nil || found {
		t.Errorf("second RemoveLogin = %v, %v", found, err)
	}
	if err := write(ctx, img, reg.Ref("private/app:2"), WithCertsDir(certs), WithRetry(1, 0)); err == nil {
		t.Error("push after logout succeeded")
	}
	// Docker Hub's historical key.
	if err := SaveLogin(file, "docker.io", "u", "p"); err != nil {
		t.Fatal(err)
	}
	if readJSONFile(t, file)["auths"].(map[string]any)[authn.DefaultAuthKey] == nil {
		t.Errorf("docker.io login not stored under %s", authn.DefaultAuthKey)
	}
}

func TestKeychainPrecedence(t *testing.T) {
	dockerDir := t.TempDir()
	runDir := t.TempDir()
	authFile := filepath.Join(t.TempDir(), "auth.json")
	entry := func(user string) string {
		return `{"auth":"` + base64.StdEncoding.EncodeToString([]byte(user+":pw")) + `"}`
	}
	writeFile(t, filepath.Join(dockerDir, "config.json"),
		`{"auths":{"a.example.com":`+entry("docker")+`,"b.example.com":`+entry("docker")+`,"ghcr.io":`+entry("docker")+`}}`)
	writeFile(t, authFile, `{"auths":{"a.example.com":`+entry("authfile")+`}}`)
	if err := os.MkdirAll(filepath.Join(runDir, "containers"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(runDir, "containers", "auth.json"), `{"auths":{"a.example.com":`+entry("podman")+`,"c.example.com":`+entry("podman")+`}}`)
	t.Setenv("HOME", t.TempDir())
	t.Setenv("DOCKER_CONFIG", dockerDir)
	for _, tc := range []struct {
		name string
		env  map[string]string
		host string
		user string
	}{
		{"auth file first", map[string]string{"REGISTRY_AUTH_FILE": authFile, "XDG_RUNTIME_DIR": runDir}, "a.example.com", "authfile"},
		{"podman auth when no REGISTRY_AUTH_FILE", map[string]string{"XDG_RUNTIME_DIR": runDir}, "a.example.com", "podman"},
		{"docker config next", map[string]string{"REGISTRY_AUTH_FILE": authFile}, "b.example.com", "docker"},
		{"docker config before GHCR env", map[string]string{"GITHUB_TOKEN": "t"}, "ghcr.io", "docker"},
		{"missing auth file is fine", map[string]string{"REGISTRY_AUTH_FILE": filepath.Join(runDir, "nope.json")}, "b.example.com", "docker"},
		{"anonymous", nil, "d.example.com", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kc := NewKeychain(WithGetenv(func(k string) string { return tc.env[k] }))
			reg, _ := name.NewRegistry(tc.host)
			auth, err := kc.Resolve(reg)
			if err != nil {
				t.Fatal(err)
			}
			if tc.user == "" {
				if auth != authn.Anonymous {
					t.Errorf("got %v, want anonymous", auth)
				}
				return
			}
			cfg, err := auth.Authorization()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Username != tc.user {
				t.Errorf("user %q, want %q", cfg.Username, tc.user)
			}
		})
	}
}

func readJSONFile(t *testing.T, file string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("decode %s: %v\n%s", file, err, data)
	}
	return v
}
