package registry

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/builderdev/builder/internal/testenv"
)

// goInternals are fragments of Go's and go-containerregistry's own
// formatting that a user must never see in an error.
var goInternals = []string{"map[", "HEAD responses have no body", "&{", "transport.Error", "url.Error",
	"remote.", "<nil>", "%!", "Diagnostic", "http.Response", "UNAUTHORIZED", "DENIED"}

// authFile returns a keychain that reads only the given auth file content
// (nothing of the machine's docker config).
func authFile(t *testing.T, content string) authn.Keychain {
	t.Helper()
	f := t.TempDir() + "/auth.json"
	writeFile(t, f, content)
	return &authFileKeychain{getenv: func(k string) string {
		if k == "REGISTRY_AUTH_FILE" {
			return f
		}
		return ""
	}}
}

func pull(ctx context.Context, ref string, opts ...Option) error {
	cl := New(opts...)
	r, err := cl.ParseReference(ref)
	if err != nil {
		return err
	}
	_, err = remote.Image(r, cl.RemoteOptions(ctx)...)
	return cl.Wrap(ctx, OpPull, ref, err)
}

func head(ctx context.Context, ref string, opts ...Option) error {
	cl := New(opts...)
	r, err := cl.ParseReference(ref)
	if err != nil {
		return err
	}
	_, err = remote.Head(r, cl.RemoteOptions(ctx)...)
	return cl.Wrap(ctx, OpPull, ref, err)
}

// checkMessage: one line, no Go internals, names the registry and (unless
// login) the repository, and every fragment of want.
func checkMessage(t *testing.T, err error, host, repo string, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	t.Log(msg)
	if strings.Contains(msg, "\n") {
		t.Errorf("error has several lines: %q", msg)
	}
	for _, bad := range goInternals {
		if strings.Contains(msg, bad) {
			t.Errorf("error shows %q: %s", bad, msg)
		}
	}
	if !strings.Contains(msg, "registry "+host) {
		t.Errorf("error does not name registry %s: %s", host, msg)
	}
	if repo != "" && !strings.Contains(msg, `repository "`+repo+`"`) {
		t.Errorf("error does not name repository %q: %s", repo, msg)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("error %q\nlacks %q", msg, w)
		}
	}
	var re *Error
	if !errors.As(err, &re) || re.Registry != host || re.Repository != repo {
		t.Errorf("error %#v does not carry registry %q and repository %q", re, host, repo)
	}
}

// rawShows tells whether go-containerregistry's own message for err shows
// s: proof that the test would fail without Wrap.
func rawShows(err error, s string) bool {
	var te *transport.Error
	return errors.As(err, &te) && strings.Contains(te.Error(), s)
}

func TestErrorsNotFound(t *testing.T) {
	reg := testenv.StartRegistry(t)
	ctx := testCtx(t)
	opts := []Option{WithKeychain(anonymous), WithCertsDir(""), WithRetry(1, 0)}
	if err := write(ctx, randomImage(t), reg.Ref("app:1"), opts...); err != nil {
		t.Fatal(err)
	}
	h := reg.Host()

	err := pull(ctx, reg.Ref("app:nope"), opts...)
	checkMessage(t, err, h, "app", "pull "+reg.Ref("app:nope")+": not found: ", `has no tag "nope"`, "(reading the manifest)",
		"check the image name and tag")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("%v is not ErrNotFound", err)
	}
	if !rawShows(err, "map[") {
		t.Errorf("the registry's own answer shows no details map: the test proves nothing")
	}

	err = pull(ctx, reg.Ref("nope/none:1"), opts...)
	checkMessage(t, err, h, "nope/none", "pull "+reg.Ref("nope/none:1")+": not found: ")
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("%v is not ErrNotFound", err)
	}

	err = head(ctx, reg.Ref("app:gone"), opts...)
	checkMessage(t, err, h, "app", "not found: ", `has no tag "gone"`, "(checking the manifest)")
	if !rawShows(err, "HEAD responses have no body") {
		t.Errorf("HEAD's raw error changed: the test proves nothing")
	}

	err = pull(ctx, reg.Ref("app@sha256:"+strings.Repeat("0", 64)), opts...)
	checkMessage(t, err, h, "app", "not found: ", "has no manifest sha256:000")
}

func TestErrorsCredentials(t *testing.T) {
	basic := testenv.StartRegistry(t, testenv.WithBasicAuth("alice", "s3cret"))
	token := testenv.StartRegistry(t, testenv.WithTokenAuth("bob", "t0ken-pass"))
	ctx := testCtx(t)
	img := randomImage(t)
	for _, tc := range []struct {
		name  string
		reg   *testenv.Registry
		user  string
		extra []string // more hosts for the certs dir (the token realm)
	}{
		{"basic", basic, "alice", nil},
		{"token", token, "bob", []string{strings.Split(strings.TrimPrefix(token.TokenRealm, "https://"), "/")[0]}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.reg.Host()
			certs := certsDirFor(t, tc.reg.CAFile, append([]string{h}, tc.extra...)...)
			none := []Option{WithKeychain(anonymous), WithCertsDir(certs), WithRetry(1, 0)}
			wrong := []Option{WithKeychain(authFile(t, `{"auths":{"`+h+`":{"auth":"YWxpY2U6d3Jvbmc="}}}`)), // alice:wrong
				WithCertsDir(certs), WithRetry(1, 0)}
			good := []Option{WithKeychain(authFile(t, `{"auths":{"`+h+`":{"username":"`+tc.user+`","password":"`+tc.reg.Password+`"}}}`)),
				WithCertsDir(certs), WithRetry(1, 0)}
			ref := tc.reg.Ref("team/app:1")

			err := write(ctx, img, ref, none...)
			checkMessage(t, err, h, "team/app", "push to "+ref+": authentication required: ",
				`wants credentials to push to repository "team/app" and none are saved for it`,
				`run "builder login `+h+`"`)
			if !errors.Is(err, ErrNoCredentials) || !errors.Is(err, ErrAuthentication) || errors.Is(err, ErrCredentialsRejected) {
				t.Errorf("no credentials: %v is not ErrNoCredentials (only)", err)
			}

			err = write(ctx, img, ref, wrong...)
			checkMessage(t, err, h, "team/app", "push to "+ref+": authentication failed: ",
				"the credentials saved for registry "+h+" were rejected")
			if !errors.Is(err, ErrCredentialsRejected) || !errors.Is(err, ErrAuthentication) || errors.Is(err, ErrNoCredentials) {
				t.Errorf("wrong credentials: %v is not ErrCredentialsRejected (only)", err)
			}
			if strings.Contains(err.Error(), "none are saved") {
				t.Errorf("wrong credentials reported as missing: %v", err)
			}

			err = pull(ctx, ref, none...)
			checkMessage(t, err, h, "team/app", "pull "+ref+": authentication required: ", "to pull from repository",
				`run "builder login `+h+`"`)
			if !errors.Is(err, ErrNoCredentials) {
				t.Errorf("pull without credentials: %v is not ErrNoCredentials", err)
			}

			if err := write(ctx, img, ref, good...); err != nil {
				t.Fatalf("push with good credentials: %v", err)
			}
			err = pull(ctx, tc.reg.Ref("team/app:2"), good...)
			checkMessage(t, err, h, "team/app", "not found: ", `has no tag "2"`)
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("%v is not ErrNotFound", err)
			}

			err = Login(ctx, h, tc.user, "nope", WithCertsDir(certs), WithRetry(1, 0))
			checkMessage(t, err, h, "", "login to "+h+": authentication failed: registry "+h+" rejected the user name and password")
			if !errors.Is(err, ErrCredentialsRejected) {
				t.Errorf("login: %v is not ErrCredentialsRejected", err)
			}
		})
	}
	if !strings.Contains(string(testenv.SkopeoInspect(t, "docker://"+token.Ref("team/app:1"), token.SkopeoFlags("")...)), "sha256:") {
		t.Error("the token registry does not have the image pushed with good credentials")
	}
}

// TestErrorsServerFailure: a registry's error entries are shown as
// "CODE: message" with their details left out, with the status and the
// request that failed.
func TestErrorsServerFailure(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"errors":[{"code":"UNKNOWN","message":"disk on\nfire","detail":{"Tag":"1","inner":{"x":1}}}]}`))
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	ref := host + "/team/app:1"
	err := pull(testCtx(t), ref, WithKeychain(anonymous), WithCertsDir(""), WithRetry(1, 0))
	checkMessage(t, err, host, "team/app", "pull "+ref+": registry "+host+" answered 500 Internal Server Error",
		"(reading the manifest): UNKNOWN: disk on fire; try again later")
	if !rawShows(err, "map[") {
		t.Errorf("raw error shows no details map: the test proves nothing")
	}
}

func TestDescribeRequest(t *testing.T) {
	const host = "reg.example.com"
	for _, tc := range []struct {
		method, url string
		what, repo  string
	}{
		{"GET", "https://reg.example.com/v2/", "checking access", ""},
		{"GET", "https://auth.example.com/token?scope=repository%3Aa%3Apull&service=reg", "getting an auth token from auth.example.com", ""},
		{"POST", "https://auth.example.com/token", "getting an auth token from auth.example.com", ""},
		{"GET", "https://cdn.example.com/blobs/x", "following a redirect to cdn.example.com", ""},
		{"GET", "https://reg.example.com/v2/team/app/manifests/1", "reading the manifest", "team/app"},
		{"HEAD", "https://reg.example.com/v2/team/app/manifests/1", "checking the manifest", "team/app"},
		{"PUT", "https://reg.example.com/v2/team/app/manifests/1", "writing the manifest", "team/app"},
		{"HEAD", "https://reg.example.com/v2/a/blobs/sha256:ab", "checking blob sha256:ab", "a"},
		{"GET", "https://reg.example.com/v2/a/blobs/sha256:ab", "reading blob sha256:ab", "a"},
		{"POST", "https://reg.example.com/v2/a/b/blobs/uploads/?mount=sha256:ab&from=lib/base", "mounting a blob from lib/base", "a/b"},
		{"POST", "https://reg.example.com/v2/a/blobs/uploads/", "starting a blob upload", "a"},
		{"PATCH", "https://reg.example.com/v2/a/blobs/uploads/u1", "uploading a blob", "a"},
		{"PUT", "https://reg.example.com/v2/a/blobs/uploads/u1?digest=sha256:ab", "finishing a blob upload", "a"},
	} {
		t.Run(tc.method+" "+tc.url, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.url, nil)
			what, repo := describeRequest(req, host)
			if what != tc.what || repo != tc.repo {
				t.Errorf("got %q, %q; want %q, %q", what, repo, tc.what, tc.repo)
			}
		})
	}
}

func TestWrapKeepsNilAndWrapped(t *testing.T) {
	ctx := testCtx(t)
	if err := Wrap(ctx, OpPull, "a/b:1", nil, WithKeychain(anonymous)); err != nil {
		t.Errorf("Wrap(nil) = %v", err)
	}
	first := Wrap(ctx, OpPull, "reg.example.com/a:1", errors.New("boom"), WithKeychain(anonymous))
	if again := Wrap(ctx, OpImportCache, "reg.example.com/a:1", first, WithKeychain(anonymous)); again != first {
		t.Errorf("wrapping twice gave %q, want %q", again, first)
	}
	if first.Error() != "pull reg.example.com/a:1: boom" {
		t.Errorf("non-registry error reads %q", first)
	}
}
