package attest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func provenanceInput(mode, version string) ProvenanceInput {
	t0 := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	return ProvenanceInput{
		Options:         ProvenanceOptions{Mode: mode, Version: version, BuilderID: "https://ci.example/run/1"},
		Args:            map[string]string{"VERSION": "1.2"},
		Labels:          map[string]string{"team": "core"},
		SecretIDs:       []string{"npmrc"},
		Platform:        "linux/amd64",
		BuilderPlatform: "linux/amd64",
		DockerfilePath:  "Dockerfile",
		Dockerfile:      []byte("FROM busybox\nRUN echo hi\n"),
		Steps:           []Step{{ID: "step1", File: "Dockerfile", Line: 2, EndLine: 2, Original: "RUN echo hi"}},
		Materials:       []Material{ImageMaterial("127.0.0.1:5000/busybox:latest", "linux/amd64", "sha256:"+strings.Repeat("a", 64))},
		VCS:             &VCS{Source: "https://git.example/app.git", Revision: strings.Repeat("b", 40)},
		InvocationID:    "inv1",
		Started:         t0,
		Finished:        t0.Add(time.Minute),
	}
}

func decode(t *testing.T, p Predicate) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(p.Data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// get walks m along keys (maps only).
func get(m any, keys ...string) any {
	for _, k := range keys {
		mm, ok := m.(map[string]any)
		if !ok {
			return nil
		}
		m = mm[k]
	}
	return m
}

func TestProvenanceV1Min(t *testing.T) {
	p, err := Provenance(provenanceInput(ModeMin, V1))
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != PredicateSLSAv1 || p.Statement != StatementV1 {
		t.Fatalf("predicate %s in %s", p.Type, p.Statement)
	}
	m := decode(t, p)
	bd := get(m, "buildDefinition")
	if got := get(bd, "buildType"); got != buildKitBuildTypeDef {
		t.Errorf("buildType %v", got)
	}
	if got := get(m, "runDetails", "builder", "id"); got != "https://ci.example/run/1" {
		t.Errorf("builder id %v", got)
	}
	req := get(bd, "externalParameters", "request")
	if get(req, "frontend") != "dockerfile.v0" {
		t.Errorf("frontend %v", get(req, "frontend"))
	}
	args := get(req, "args").(map[string]any)
	if _, ok := args["build-arg:VERSION"]; ok {
		t.Errorf("min mode records build arg values: %v", args)
	}
	if _, ok := args["label:team"]; ok {
		t.Errorf("min mode records labels: %v", args)
	}
	if s := get(req, "secrets").([]any); len(s) != 0 {
		t.Errorf("min mode records secret ids: %v", s)
	}
	deps := get(bd, "resolvedDependencies").([]any)
	if len(deps) != 2 {
		t.Fatalf("resolvedDependencies %v", deps)
	}
	if get(deps[0], "uri") != "pkg:docker/127.0.0.1:5000/busybox@latest?platform=linux%2Famd64" || get(deps[0], "digest", "sha256") != strings.Repeat("a", 64) {
		t.Errorf("base image dependency %v", deps[0])
	}
	if get(deps[1], "uri") != "https://git.example/app.git" || get(deps[1], "digest", "sha1") != strings.Repeat("b", 40) {
		t.Errorf("git dependency %v", deps[1])
	}
	md := get(m, "runDetails", "metadata")
	if get(md, "startedOn") != "2024-05-06T07:08:09Z" || get(md, "finishedOn") != "2024-05-06T07:09:09Z" || get(md, "invocationID") != "inv1" {
		t.Errorf("metadata %v", md)
	}
	if get(md, "buildkit_metadata", "vcs", "revision") != strings.Repeat("b", 40) {
		t.Errorf("vcs %v", get(md, "buildkit_metadata", "vcs"))
	}
	if get(md, "buildkit_metadata", "source") != nil || get(bd, "internalParameters", "buildConfig") != nil {
		t.Errorf("min mode has the Dockerfile or steps: %s", p.Data)
	}
	if get(bd, "internalParameters", "builderPlatform") != "linux/amd64" {
		t.Errorf("builderPlatform %v", get(bd, "internalParameters"))
	}
}

func TestProvenanceV1Max(t *testing.T) {
	p, err := Provenance(provenanceInput(ModeMax, V1))
	if err != nil {
		t.Fatal(err)
	}
	m := decode(t, p)
	req := get(m, "buildDefinition", "externalParameters", "request")
	if got := get(req, "args", "build-arg:VERSION"); got != "1.2" {
		t.Errorf("build arg %v", got)
	}
	if got := get(req, "args", "label:team"); got != "core" {
		t.Errorf("label %v", got)
	}
	if s := get(req, "secrets").([]any); len(s) != 1 || get(s[0], "id") != "npmrc" {
		t.Errorf("secrets %v", s)
	}
	infos := get(m, "runDetails", "metadata", "buildkit_metadata", "source", "infos").([]any)
	data, _ := base64.StdEncoding.DecodeString(get(infos[0], "data").(string))
	if string(data) != "FROM busybox\nRUN echo hi\n" || get(infos[0], "filename") != "Dockerfile" {
		t.Errorf("source info %v (%q)", infos, data)
	}
	steps := get(m, "buildDefinition", "internalParameters", "buildConfig", "steps").([]any)
	if len(steps) != 1 || get(steps[0], "original") != "RUN echo hi" || get(steps[0], "line") != 2.0 {
		t.Errorf("steps %v", steps)
	}
	if get(m, "runDetails", "metadata", "buildkit_completeness", "request") != true {
		t.Errorf("max mode request not complete")
	}
}

func TestProvenanceV02(t *testing.T) {
	for _, mode := range []string{ModeMin, ModeMax} {
		p, err := Provenance(provenanceInput(mode, V02))
		if err != nil {
			t.Fatal(err)
		}
		if p.Type != PredicateSLSAv02 || p.Statement != StatementV01 {
			t.Fatalf("predicate %s in %s", p.Type, p.Statement)
		}
		m := decode(t, p)
		if get(m, "buildType") != buildKitBuildTypeV1 || get(m, "builder", "id") != "https://ci.example/run/1" {
			t.Errorf("%s: buildType/builder %v %v", mode, get(m, "buildType"), get(m, "builder"))
		}
		if mats := get(m, "materials").([]any); len(mats) != 2 {
			t.Errorf("%s: materials %v", mode, mats)
		}
		if get(m, "invocation", "configSource", "entryPoint") != "Dockerfile" || get(m, "invocation", "environment", "platform") != "linux/amd64" {
			t.Errorf("%s: invocation %v", mode, get(m, "invocation"))
		}
		if get(m, "metadata", "buildStartedOn") != "2024-05-06T07:08:09Z" {
			t.Errorf("%s: metadata %v", mode, get(m, "metadata"))
		}
		_, hasArg := get(m, "invocation", "parameters", "args").(map[string]any)["build-arg:VERSION"]
		hasCfg := get(m, "buildConfig") != nil
		if max := mode == ModeMax; hasArg != max || hasCfg != max {
			t.Errorf("%s: build arg recorded %v, buildConfig %v", mode, hasArg, hasCfg)
		}
	}
}

func TestParseProvenance(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want ProvenanceOptions
		off  bool
		err  string
	}{
		{in: "true", want: ProvenanceOptions{Mode: ModeMin, Version: V1}},
		{in: "max", want: ProvenanceOptions{Mode: ModeMax, Version: V1}},
		{in: "mode=max,version=v0.2", want: ProvenanceOptions{Mode: ModeMax, Version: V02}},
		{in: "mode=min,builder-id=https://ci/1", want: ProvenanceOptions{Mode: ModeMin, Version: V1, BuilderID: "https://ci/1"}},
		{in: "false", off: true},
		{in: "disabled=true", off: true},
		{in: "mode=full", err: "mode must be min or max"},
		{in: "version=v2", err: "version must be v1 or v0.2"},
		{in: "colour=red", err: `unknown key "colour"`},
		{in: "mode", err: "is not key=value"},
	} {
		got, off, err := ParseProvenance(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "--provenance") {
				t.Errorf("%q: error %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || off != tc.off || got != tc.want {
			t.Errorf("%q: %+v off=%v err=%v, want %+v off=%v", tc.in, got, off, err, tc.want, tc.off)
		}
	}
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@e", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@e", "GIT_CONFIG_GLOBAL=/dev/null")
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, b)
	}
	return strings.TrimSpace(string(b))
}

func TestGitVCS(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	ctx := context.Background()
	repo := t.TempDir()
	git(t, repo, "init", "-q", "-b", "main")
	git(t, repo, "remote", "add", "origin", "https://bob:s3cr3t-token@git.example/app.git")
	os.MkdirAll(filepath.Join(repo, "sub"), 0o755)
	os.WriteFile(filepath.Join(repo, "sub", "f"), []byte("x"), 0o644)
	git(t, repo, "add", ".")
	git(t, repo, "commit", "-q", "-m", "one")
	head := git(t, repo, "rev-parse", "HEAD")

	v, err := GitVCS(ctx, filepath.Join(repo, "sub"))
	if err != nil {
		t.Fatal(err)
	}
	if v == nil || v.Revision != head || v.Source != "https://git.example/app.git" {
		t.Fatalf("vcs %+v, want %s from https://git.example/app.git (no credentials)", v, head)
	}
	// Packed refs, as after git gc.
	git(t, repo, "pack-refs", "--all")
	if v, err := GitVCS(ctx, repo); err != nil || v.Revision != head {
		t.Errorf("packed refs: %+v %v", v, err)
	}
	// A worktree: .git is a file, refs live in the main repository.
	wt := filepath.Join(t.TempDir(), "wt")
	git(t, repo, "worktree", "add", "-q", "-b", "other", wt)
	os.WriteFile(filepath.Join(wt, "g"), []byte("y"), 0o644)
	git(t, wt, "add", ".")
	git(t, wt, "commit", "-q", "-m", "two")
	wtHead := git(t, wt, "rev-parse", "HEAD")
	if v, err := GitVCS(ctx, wt); err != nil || v.Revision != wtHead || v.Source != "https://git.example/app.git" {
		t.Errorf("worktree: %+v %v, want %s", v, err, wtHead)
	}
	// Not a checkout.
	if v, err := GitVCS(ctx, t.TempDir()); err != nil || v != nil {
		t.Errorf("plain dir: %+v %v", v, err)
	}
}

func TestDockerPURL(t *testing.T) {
	for in, want := range map[string]string{
		"alpine:3.17":                    "pkg:docker/alpine@3.17?platform=linux%2Famd64",
		"busybox":                        "pkg:docker/busybox@latest?platform=linux%2Famd64",
		"docker.io/org/app:1":            "pkg:docker/org/app@1?platform=linux%2Famd64",
		"127.0.0.1:5000/team/busybox:v1": "pkg:docker/127.0.0.1:5000/team/busybox@v1?platform=linux%2Famd64",
		"ghcr.io/o/a@sha256:" + strings.Repeat("c", 64): "pkg:docker/ghcr.io/o/a@sha256:" + strings.Repeat("c", 64) + "?platform=linux%2Famd64",
	} {
		if got := DockerPURL(in, "linux/amd64"); got != want {
			t.Errorf("DockerPURL(%q) = %q, want %q", in, got, want)
		}
	}
}
