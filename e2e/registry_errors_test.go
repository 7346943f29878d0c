package e2e_test

import (
	"encoding/base64"
	"path/filepath"
	"strings"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
)

// wantRegistryError checks that a failed run's stderr says every fragment
// of want and shows none of Go's or go-containerregistry's internals.
func wantRegistryError(t *testing.T, r result, want ...string) {
	t.Helper()
	if r.code == 0 {
		t.Fatalf("succeeded, want a registry error: %s", r)
	}
	lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
	t.Logf("last line of stderr: %s", lines[len(lines)-1])
	for _, bad := range []string{"map[", "HEAD responses have no body", "&{", "transport.Error", "url.Error", "<nil>"} {
		if strings.Contains(r.stderr, bad) {
			t.Errorf("stderr shows %q:\n%s", bad, r.stderr)
		}
	}
	for _, w := range want {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
}

// Registry errors through the binary: a missing tag on pull, a push with
// no saved credentials, a push whose saved credentials are wrong, and a
// pull from a token-auth registry without credentials.
func TestRegistryErrorMessages(t *testing.T) {
	testenv.LeakCheck(t)
	t.Run("missing tag", func(t *testing.T) {
		reg := testenv.StartRegistry(t)
		testenv.PushBusybox(t, reg)
		ctxDir := smallContext(t, false)
		ref := reg.Ref("busybox:nope")
		writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM "+ref+"\n")
		r := runBuilder(t, runOpts{}, "--root", newRoot(t), "build", "--progress", "plain", ctxDir)
		wantRegistryError(t, r, "pull "+ref+": not found: ", `repository "busybox" on registry `+reg.Host()+` has no tag "nope"`)
	})
	t.Run("push credentials", func(t *testing.T) {
		reg := testenv.StartRegistry(t, testenv.WithBasicAuth("e2e", "pa55word"))
		ctxDir := smallContext(t, true)
		root := newRoot(t)
		ref := reg.Ref("team/app:1")
		push := func(env ...string) result {
			return runBuilder(t, runOpts{env: append(env, "SSL_CERT_FILE="+reg.CAFile)}, "--root", root, "build",
				"--progress", "plain", "--build-context", busyboxContext(t), "--push", "-t", ref, ctxDir)
		}
		wantRegistryError(t, push(), "push to "+ref+": authentication required: ",
			`registry `+reg.Host()+` wants credentials to push to repository "team/app" and none are saved for it`,
			`run "builder login `+reg.Host()+`"`)

		wrongDir := t.TempDir()
		writeFile(t, filepath.Join(wrongDir, "config.json"),
			`{"auths":{"`+reg.Host()+`":{"auth":"`+base64.StdEncoding.EncodeToString([]byte("e2e:wrong"))+`"}}}`)
		r := push("DOCKER_CONFIG=" + wrongDir)
		wantRegistryError(t, r, "push to "+ref+": authentication failed: ",
			"the credentials saved for registry "+reg.Host()+" were rejected")
		if strings.Contains(r.stderr, "none are saved") {
			t.Errorf("wrong credentials reported as missing:\n%s", r.stderr)
		}

		mustBuild(t, runOpts{env: []string{"SSL_CERT_FILE=" + reg.CAFile, "DOCKER_CONFIG=" + reg.DockerConfigDir(t)}},
			"--root", root, "build", "--progress", "plain", "--build-context", busyboxContext(t), "--push", "-t", ref, ctxDir)
	})
	t.Run("token pull without credentials", func(t *testing.T) {
		reg := testenv.StartRegistry(t, testenv.WithTokenAuth("e2e", "t0ken"))
		ref := testenv.PushBusybox(t, reg)
		ctxDir := smallContext(t, false)
		writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM "+ref+"\n")
		r := runBuilder(t, runOpts{env: []string{"SSL_CERT_FILE=" + reg.CAFile}}, "--root", newRoot(t), "build",
			"--progress", "plain", ctxDir)
		wantRegistryError(t, r, "pull "+ref+": authentication required: ",
			`wants credentials to pull from repository "busybox"`, `run "builder login `+reg.Host()+`"`)
	})
}
