package e2e_test

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
)

const (
	attestSecret   = "s3cr3t-value-42"
	attestGitToken = "gh-token-123"
	attestDpkg     = "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36-9+deb12u4\n\n" +
		"Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 1\n"
	attestApk = "P:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\n\nP:zlib\nV:1.3.1-r0\nA:x86_64\nL:Zlib\n"
)

// attestContext is a git checkout (origin URL with a token in it) with a
// Dockerfile that copies a dpkg status file, an apk database and a Go
// binary into an image from base, and reads a secret in a RUN.
func attestContext(t *testing.T, base string) (dir, commit string) {
	t.Helper()
	testenv.NeedTool(t, "git")
	dir = t.TempDir()
	writeFile(t, filepath.Join(dir, "Dockerfile"), "FROM "+base+"\n"+
		"ARG FOO\n"+
		"COPY status /var/lib/dpkg/status\n"+
		"COPY installed /lib/apk/db/installed\n"+
		"COPY hello /usr/local/bin/hello\n"+
		"RUN --mount=type=secret,id=token test -s /run/secrets/token && echo \"$FOO\" > /foo\n")
	writeFile(t, filepath.Join(dir, "status"), attestDpkg)
	writeFile(t, filepath.Join(dir, "installed"), attestApk)
	testenv.GoBinary(t, dir, "hello")
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=e2e", "GIT_AUTHOR_EMAIL=e2e@example", "GIT_COMMITTER_NAME=e2e",
			"GIT_COMMITTER_EMAIL=e2e@example", "GIT_CONFIG_GLOBAL=/dev/null")
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, b)
		}
		return strings.TrimSpace(string(b))
	}
	git("init", "-q", "-b", "main")
	git("remote", "add", "origin", "https://ci:"+attestGitToken+"@git.example/team/app.git")
	writeFile(t, filepath.Join(dir, ".dockerignore"), ".git\n")
	git("add", ".")
	git("commit", "-q", "-m", "app")
	return dir, git("rev-parse", "HEAD")
}

type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Annotations map[string]string `json:"annotations"`
	Platform    *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform"`
}

// pushed is an attested push read back: the index as skopeo --raw shows
// it, and the statements of its attestation manifest by predicate type.
type pushed struct {
	index struct {
		MediaType string
		Manifests []descriptor
	}
	image      string // the image manifest digest
	statements map[string]map[string]any
	blobs      [][]byte // every attestation blob
}

func readAttested(t *testing.T, reg *testenv.Registry, ref string) pushed {
	t.Helper()
	var p pushed
	raw := testenv.SkopeoInspect(t, "docker://"+ref, append(reg.SkopeoFlags(""), "--raw")...)
	if err := json.Unmarshal(raw, &p.index); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	if p.index.MediaType != "application/vnd.oci.image.index.v1+json" || len(p.index.Manifests) != 2 {
		t.Fatalf("%s is not an index of image + attestation manifest:\n%s", ref, raw)
	}
	img, att := p.index.Manifests[0], p.index.Manifests[1]
	p.image = img.Digest
	if img.Platform == nil || img.Platform.OS != "linux" || img.Platform.Architecture != goarch() {
		t.Errorf("image entry %+v", img)
	}
	if att.Platform == nil || att.Platform.OS != "unknown" || att.Platform.Architecture != "unknown" ||
		att.Annotations["vnd.docker.reference.type"] != "attestation-manifest" || att.Annotations["vnd.docker.reference.digest"] != img.Digest {
		t.Errorf("attestation entry %+v, want unknown/unknown referring to %s", att, img.Digest)
	}
	// Read it all back as a client would: skopeo copy --all.
	layout := filepath.Join(t.TempDir(), "layout")
	testenv.Skopeo(t, append(append([]string{"copy", "--all", "-q"}, reg.SkopeoFlags("src-")...), "docker://"+ref, "oci:"+layout+":x")...)
	blob := func(d string) []byte {
		b, err := os.ReadFile(filepath.Join(layout, "blobs", "sha256", strings.TrimPrefix(d, "sha256:")))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var m struct{ Layers []descriptor }
	if err := json.Unmarshal(blob(att.Digest), &m); err != nil {
		t.Fatal(err)
	}
	p.statements = map[string]map[string]any{}
	for _, l := range m.Layers {
		if l.MediaType != "application/vnd.in-toto+json" {
			t.Errorf("attestation layer %s", l.MediaType)
		}
		b := blob(l.Digest)
		p.blobs = append(p.blobs, b)
		var st struct {
			Type          string `json:"_type"`
			PredicateType string
			Subject       []struct {
				Name   string
				Digest map[string]string
			}
			Predicate map[string]any
		}
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		if l.Annotations["in-toto.io/predicate-type"] != st.PredicateType {
			t.Errorf("layer annotation %v, statement %s", l.Annotations, st.PredicateType)
		}
		if len(st.Subject) == 0 || "sha256:"+st.Subject[0].Digest["sha256"] != img.Digest {
			t.Errorf("%s subject %+v, want %s", st.PredicateType, st.Subject, img.Digest)
		}
		p.statements[st.PredicateType] = st.Predicate
	}
	return p
}

// get walks m along keys.
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

// A push with --sbom and --provenance=mode=max carries both attestations
// in BuildKit's layout: the SBOM lists the image's dpkg, apk and Go
// packages, the provenance its base image, git commit, build arg, secret
// ID, Dockerfile and steps. No attestation holds the secret's value, the
// registry credentials or the token in the git remote URL. Without
// --provenance a push gets mode=min; --provenance=false pushes the image
// alone.
func TestBuildAttestations(t *testing.T) {
	testenv.LeakCheck(t)
	reg := testenv.StartRegistry(t, testenv.WithBasicAuth("e2e", "attest-pa55word"))
	base := testenv.PushBusybox(t, reg)
	ctxDir, commit := attestContext(t, base)
	env := []string{"DOCKER_CONFIG=" + reg.DockerConfigDir(t), "SSL_CERT_FILE=" + reg.CAFile, "E2E_TOKEN=" + attestSecret}
	root := newRoot(t)
	ref := reg.Ref("e2e/attest:max")
	mustBuild(t, runOpts{env: env}, "--root", root, "build", "--progress", "plain", "--push", "-t", ref,
		"--sbom=true", "--provenance=mode=max", "--secret", "id=token,env=E2E_TOKEN", "--build-arg", "FOO=visible-arg", ctxDir)
	p := readAttested(t, reg, ref)

	sbom := p.statements["https://spdx.dev/Document"]
	if get(sbom, "spdxVersion") != "SPDX-2.3" {
		t.Fatalf("no SPDX 2.3 SBOM: %v", sbom)
	}
	var purls []string
	for _, pk := range get(sbom, "packages").([]any) {
		for _, r := range get(pk, "externalRefs").([]any) {
			s := get(r, "referenceLocator").(string)
			if strings.HasPrefix(s, "pkg:golang/stdlib@go1.") {
				s = "pkg:golang/stdlib@GO"
			}
			purls = append(purls, s)
		}
	}
	sort.Strings(purls)
	want := []string{
		"pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64",
		"pkg:apk/alpine/zlib@1.3.1-r0?arch=x86_64",
		"pkg:deb/debian/libc6@2.36-9+deb12u4?arch=amd64",
		"pkg:golang/" + testenv.GoBinaryDep + "@" + testenv.GoBinaryDepVer,
		"pkg:golang/" + testenv.GoBinaryModule + "@%28devel%29",
		"pkg:golang/stdlib@GO",
	}
	sort.Strings(want)
	if strings.Join(purls, "\n") != strings.Join(want, "\n") {
		t.Errorf("SBOM packages:\n%s\nwant:\n%s", strings.Join(purls, "\n"), strings.Join(want, "\n"))
	}

	prov := p.statements["https://slsa.dev/provenance/v1"]
	if prov == nil {
		t.Fatalf("no SLSA v1 provenance: %v", p.statements)
	}
	bd := get(prov, "buildDefinition")
	baseDigest := strings.TrimSpace(string(testenv.SkopeoInspect(t, "docker://"+base, append(reg.SkopeoFlags(""), "--format", "{{.Digest}}")...)))
	deps, _ := json.Marshal(get(bd, "resolvedDependencies"))
	if !strings.Contains(string(deps), strings.TrimPrefix(baseDigest, "sha256:")) || !strings.Contains(string(deps), commit) ||
		!strings.Contains(string(deps), "https://git.example/team/app.git") {
		t.Errorf("resolvedDependencies %s, want base image %s and commit %s", deps, baseDigest, commit)
	}
	req := get(bd, "externalParameters", "request")
	if get(req, "args", "build-arg:FOO") != "visible-arg" {
		t.Errorf("max mode lacks the build arg: %v", get(req, "args"))
	}
	if s, _ := json.Marshal(get(req, "secrets")); string(s) != `[{"id":"token"}]` {
		t.Errorf("secrets %s, want the id only", s)
	}
	src := get(prov, "runDetails", "metadata", "buildkit_metadata", "source", "infos").([]any)
	df, _ := base64.StdEncoding.DecodeString(get(src[0], "data").(string))
	if !strings.Contains(string(df), "COPY hello /usr/local/bin/hello") {
		t.Errorf("max mode lacks the Dockerfile: %q", df)
	}
	steps, _ := json.Marshal(get(bd, "internalParameters", "buildConfig", "steps"))
	if !strings.Contains(string(steps), "RUN --mount=type=secret,id=token") {
		t.Errorf("max mode lacks the steps: %s", steps)
	}
	if get(prov, "runDetails", "metadata", "buildkit_metadata", "vcs", "revision") != commit {
		t.Errorf("vcs %v", get(prov, "runDetails", "metadata", "buildkit_metadata", "vcs"))
	}
	noLeaks(t, p.blobs)

	// Pushing without --provenance: mode=min, no build arg values, no
	// Dockerfile; SLSA v0.2 on request.
	ref = reg.Ref("e2e/attest:min")
	mustBuild(t, runOpts{env: env}, "--root", root, "build", "--progress", "plain", "--push", "-t", ref,
		"--secret", "id=token,env=E2E_TOKEN", "--build-arg", "FOO=visible-arg", ctxDir)
	p = readAttested(t, reg, ref)
	if len(p.statements) != 1 || p.statements["https://slsa.dev/provenance/v1"] == nil {
		t.Fatalf("default push attestations %v, want provenance only", p.statements)
	}
	min, _ := json.Marshal(p.statements["https://slsa.dev/provenance/v1"])
	if strings.Contains(string(min), "visible-arg") || strings.Contains(string(min), `"id":"token"`) || strings.Contains(string(min), "buildConfig") ||
		!strings.Contains(string(min), commit) || !strings.Contains(string(min), strings.TrimPrefix(baseDigest, "sha256:")) {
		t.Errorf("min provenance: %s", min)
	}
	noLeaks(t, p.blobs)

	ref = reg.Ref("e2e/attest:v02")
	mustBuild(t, runOpts{env: env}, "--root", root, "build", "--progress", "plain", "--push", "-t", ref,
		"--provenance=mode=max,version=v0.2", "--secret", "id=token,env=E2E_TOKEN", ctxDir)
	p = readAttested(t, reg, ref)
	if v02 := p.statements["https://slsa.dev/provenance/v0.2"]; get(v02, "buildType") != "https://mobyproject.org/buildkit@v1" || get(v02, "materials") == nil {
		t.Errorf("v0.2 provenance %v", v02)
	}
	noLeaks(t, p.blobs)

	// --provenance=false: the tag names the image manifest.
	ref = reg.Ref("e2e/attest:off")
	mustBuild(t, runOpts{env: env}, "--root", root, "build", "--progress", "plain", "--push", "-t", ref,
		"--provenance=false", "--secret", "id=token,env=E2E_TOKEN", ctxDir)
	raw := testenv.SkopeoInspect(t, "docker://"+ref, append(reg.SkopeoFlags(""), "--raw")...)
	if strings.Contains(string(raw), "attestation-manifest") || !strings.Contains(string(raw), `"layers"`) {
		t.Errorf("--provenance=false pushed %s", raw)
	}

	// A bad value names the flag.
	r := runBuilder(t, runOpts{env: env}, "--root", root, "build", "--progress", "plain", "--push", "-t", ref, "--provenance=mode=full", ctxDir)
	if r.code == 0 || !strings.Contains(r.stderr, "--provenance") {
		t.Errorf("--provenance=mode=full: %s", r)
	}
}

// noLeaks fails if an attestation blob holds the secret's value, the
// registry password or the git URL's token, plain or base64.
func noLeaks(t *testing.T, blobs [][]byte) {
	t.Helper()
	if len(blobs) == 0 {
		t.Fatal("no attestation blobs")
	}
	for _, s := range []string{attestSecret, "attest-pa55word", attestGitToken} {
		for _, form := range []string{s, base64.StdEncoding.EncodeToString([]byte(s)), base64.StdEncoding.EncodeToString([]byte("e2e:" + s))} {
			for i, b := range blobs {
				if strings.Contains(string(b), form) {
					t.Errorf("attestation blob %d holds %q", i, form)
				}
			}
		}
	}
}

// A 2-platform push with --sbom and --provenance=mode=max is one index:
// both images, then one attestation manifest per platform referring to
// its image, each statement's subject that image and its provenance that
// platform. The type=oci tar of the same build holds the same index. No
// attestation blob of either holds the secret's value or the registry
// credentials.
func TestBuildAttestationsMultiPlatform(t *testing.T) {
	testenv.LeakCheck(t)
	testenv.NeedArm64(t)
	reg := testenv.StartRegistry(t, testenv.WithBasicAuth("e2e", "attest-pa55word"))
	base := testenv.PushBusyboxMulti(t, reg)
	ctxDir := t.TempDir()
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), "FROM "+base+"\n"+
		"RUN --mount=type=secret,id=token test -s /run/secrets/token && uname -m > /arch\n")
	env := []string{"DOCKER_CONFIG=" + reg.DockerConfigDir(t), "SSL_CERT_FILE=" + reg.CAFile, "E2E_TOKEN=" + attestSecret}
	ref := reg.Ref("e2e/attest-multi:v1")
	ociTar := filepath.Join(t.TempDir(), "multi.tar")
	mustBuild(t, runOpts{env: env}, "--root", newRoot(t), "build", "--progress", "plain",
		"--platform", "linux/amd64,linux/arm64", "--push", "-t", ref, "-o", "type=oci,dest="+ociTar,
		"--sbom=true", "--provenance=mode=max", "--secret", "id=token,env=E2E_TOKEN", ctxDir)

	raw := testenv.SkopeoInspect(t, "docker://"+ref, append(reg.SkopeoFlags(""), "--raw")...)
	var idx struct {
		MediaType string       `json:"mediaType"`
		Manifests []descriptor `json:"manifests"`
	}
	if err := json.Unmarshal(raw, &idx); err != nil {
		t.Fatal(err)
	}
	if idx.MediaType != testenv.MediaTypeIndex || len(idx.Manifests) != 4 {
		t.Fatalf("pushed index is not 2 images + 2 attestation manifests:\n%s", raw)
	}
	layout := filepath.Join(t.TempDir(), "layout")
	testenv.Skopeo(t, append(append([]string{"copy", "--all", "-q"}, reg.SkopeoFlags("src-")...), "docker://"+ref, "oci:"+layout+":x")...)
	blobs := checkPlatformAttestations(t, "push", layout, idx.Manifests)

	// The OCI tar: index.json names the same index.
	dir := testenv.ExtractTar(t, ociTar)
	var top struct{ Manifests []descriptor }
	if err := json.Unmarshal(readBlobFile(t, filepath.Join(dir, "index.json")), &top); err != nil || len(top.Manifests) != 1 {
		t.Fatalf("oci tar index.json: %v %+v", err, top)
	}
	if top.Manifests[0].Digest != testenv.DigestOf(raw) {
		t.Errorf("oci tar index %s, pushed %s", top.Manifests[0].Digest, testenv.DigestOf(raw))
	}
	blobs = append(blobs, checkPlatformAttestations(t, "oci tar", dir, idx.Manifests)...)
	noLeaks(t, blobs)
}

// checkPlatformAttestations checks the attestation manifests of a
// 2-platform index (entries, in order: amd64, arm64 images, then their
// attestation manifests) whose blobs are in the OCI layout dir, and
// returns every attestation blob.
func checkPlatformAttestations(t *testing.T, what, dir string, ms []descriptor) [][]byte {
	t.Helper()
	blob := func(d string) []byte {
		return readBlobFile(t, filepath.Join(dir, "blobs", "sha256", strings.TrimPrefix(d, "sha256:")))
	}
	var out [][]byte
	for i, arch := range []string{"amd64", "arm64"} {
		img, att := ms[i], ms[2+i]
		if img.Platform == nil || img.Platform.OS != "linux" || img.Platform.Architecture != arch {
			t.Errorf("%s: entry %d %+v, want linux/%s", what, i, img, arch)
		}
		if att.Platform == nil || att.Platform.OS != "unknown" || att.Annotations["vnd.docker.reference.type"] != "attestation-manifest" ||
			att.Annotations["vnd.docker.reference.digest"] != img.Digest {
			t.Errorf("%s: entry %d %+v, want the attestation manifest of %s", what, 2+i, att, img.Digest)
		}
		var m struct{ Layers []descriptor }
		if err := json.Unmarshal(blob(att.Digest), &m); err != nil {
			t.Fatal(err)
		}
		types := map[string]bool{}
		for _, l := range m.Layers {
			b := blob(l.Digest)
			out = append(out, b)
			var st struct {
				PredicateType string `json:"predicateType"`
				Subject       []struct {
					Name   string            `json:"name"`
					Digest map[string]string `json:"digest"`
				} `json:"subject"`
			}
			if err := json.Unmarshal(b, &st); err != nil {
				t.Fatalf("%s: %s statement: %v", what, arch, err)
			}
			types[st.PredicateType] = true
			if len(st.Subject) == 0 || "sha256:"+st.Subject[0].Digest["sha256"] != img.Digest ||
				!strings.Contains(st.Subject[0].Name, "platform=linux%2F"+arch) {
				t.Errorf("%s: %s %s subjects %+v, want %s", what, arch, st.PredicateType, st.Subject, img.Digest)
			}
			if strings.HasPrefix(st.PredicateType, "https://slsa.dev/provenance/") && !strings.Contains(string(b), `"targetPlatform":"linux/`+arch) {
				t.Errorf("%s: %s provenance does not name its platform:\n%s", what, arch, b)
			}
		}
		if !types["https://spdx.dev/Document"] || !types["https://slsa.dev/provenance/v1"] {
			t.Errorf("%s: %s attestations %v, want SPDX and SLSA v1", what, arch, types)
		}
	}
	return out
}

func readBlobFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
