package check

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/builderdev/builder/parser"
)

var update = flag.Bool("update", false, "rewrite the expect.txt files of testdata/dockerfiles/check")

const casesDir = "../testdata/dockerfiles/check"

var amd64 = parser.Platform{OS: "linux", Architecture: "amd64"}

// testRegistry starts go-containerregistry's in-process registry with the
// base images the cases use: base:1 (linux/amd64, root, PATH set),
// nonroot:1 (user 1000), arm:1 (linux/arm64) and latest-only:latest.
func testRegistry(t *testing.T) (host string, digests map[string]string) {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host = strings.TrimPrefix(srv.URL, "http://")
	digests = map[string]string{}
	for _, im := range []struct {
		ref, arch, user string
	}{{"base:1", "amd64", ""}, {"nonroot:1", "amd64", "1000"}, {"arm:1", "arm64", ""}, {"app:latest", "amd64", ""}} {
		cfg := &v1.ConfigFile{OS: "linux", Architecture: im.arch, Config: v1.Config{User: im.user, Env: []string{"PATH=/usr/bin:/bin"}}}
		img, err := mutate.ConfigFile(empty.Image, cfg)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := name.ParseReference(host + "/" + im.ref)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests[im.ref] = d.String()
	}
	return host, digests
}

// runCase checks dir/Dockerfile with dir/context (if present) as the
// context and the test registry as REG.
func runCase(t *testing.T, dir, host string) (*Report, error) {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	opts := []Option{
		WithBuildArgs(map[string]string{"REG": host}),
		WithPlatform(amd64, amd64),
		WithResolver(hostOnly{host}),
	}
	if ctxDir := filepath.Join(dir, "context"); isDir(ctxDir) {
		var ignore []string
		if f, err := os.Open(filepath.Join(ctxDir, ".dockerignore")); err == nil {
			ignore, err = parser.ReadDockerignore(f)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
		}
		opts = append(opts, WithContext(ctxDir, ignore))
	}
	return Run(context.Background(), src, opts...)
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// lines renders the findings of one rule as "LINE message", with the
// registry host written as $REG.
func lines(r *Report, rule, host string) []string {
	out := []string{}
	for _, f := range r.Findings {
		if f.Rule == rule {
			out = append(out, replaceHost(fmt.Sprintf("%d %s", f.Line, f.Message), host))
		}
	}
	return out
}

// TestRules runs, for every rule, testdata/dockerfiles/check/<Rule>/bad
// (which must give exactly the findings of its expect.txt, at least one)
// and good (which must give none of that rule).
func TestRules(t *testing.T) {
	host, _ := testRegistry(t)
	for _, rule := range Rules() {
		t.Run(rule.Name, func(t *testing.T) {
			dir := filepath.Join(casesDir, rule.Name)
			bad, err := runCase(t, filepath.Join(dir, "bad"), host)
			var pe *parser.Error
			if err != nil && !(errors.As(err, &pe) && bad != nil) {
				t.Fatalf("bad: %v", err)
			}
			got := lines(bad, rule.Name, host)
			expFile := filepath.Join(dir, "bad", "expect.txt")
			if *update {
				if err := os.WriteFile(expFile, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(expFile)
			if err != nil {
				t.Fatal(err)
			}
			wantLines := strings.Split(strings.TrimSpace(string(want)), "\n")
			if len(got) == 0 {
				t.Errorf("bad: no %s finding", rule.Name)
			}
			if diff := cmp.Diff(wantLines, got); diff != "" {
				t.Errorf("bad: findings (-want +got):\n%s", diff)
			}
			for _, f := range bad.Findings {
				if f.Rule == rule.Name && (f.Fix == "" || f.Line < 1 || f.URL == "") {
					t.Errorf("bad: finding without fix, line or URL: %+v", f)
				}
			}
			good, err := runCase(t, filepath.Join(dir, "good"), host)
			if err != nil {
				t.Fatalf("good: %v", err)
			}
			if g := lines(good, rule.Name, host); len(g) > 0 {
				t.Errorf("good: unexpected %s findings: %q", rule.Name, g)
			}
		})
	}
}

// TestEveryRuleHasCases: no case directory without a rule (a typo would
// otherwise go untested).
func TestEveryCaseHasRule(t *testing.T) {
	ents, err := os.ReadDir(casesDir)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, r := range Rules() {
		names[r.Name] = true
	}
	for _, e := range ents {
		if e.IsDir() && !names[e.Name()] {
			t.Errorf("%s: no rule of that name", e.Name())
		}
	}
}

// TestBuildKitRuleNames: the BuildKit rules listed in the issue, all present.
func TestBuildKitRuleNames(t *testing.T) {
	want := []string{"ConsistentInstructionCasing", "CopyIgnoredFile", "DuplicateStageName", "ExposeInvalidFormat",
		"ExposeProtoCasing", "FromAsCasing", "FromPlatformFlagConstDisallowed", "InvalidBaseImagePlatform",
		"InvalidDefaultArgInFrom", "InvalidDefinitionDescription", "JSONArgsRecommended", "LegacyKeyValueFormat",
		"MaintainerDeprecated", "MultipleInstructionsDisallowed", "NoEmptyContinuation", "RedundantTargetPlatform",
		"ReservedStageName", "SecretsUsedInArgOrEnv", "StageNameCasing", "UndefinedArgInFrom", "UndefinedVar",
		"WorkdirRelativePath"}
	var got []string
	for _, r := range Rules() {
		if r.BuildKit {
			got = append(got, r.Name)
			if !strings.HasPrefix(r.URL, "https://docs.docker.com/go/dockerfile/rule/") {
				t.Errorf("%s: URL %q", r.Name, r.URL)
			}
		}
	}
	sort.Strings(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("BuildKit rules (-want +got):\n%s", diff)
	}
}

func TestDirectiveSkipAndError(t *testing.T) {
	src := "# check=skip=MaintainerDeprecated,StageNameCasing;error=true\nFROM scratch AS Build\nMAINTAINER me\nWORKDIR app\n"
	r, err := Run(context.Background(), []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, f := range r.Findings {
		rules = append(rules, f.Rule)
		if f.Level != LevelError {
			t.Errorf("%s: level %s, want error", f.Rule, f.Level)
		}
	}
	if !contains(rules, "WorkdirRelativePath") || contains(rules, "MaintainerDeprecated") || contains(rules, "StageNameCasing") {
		t.Errorf("rules %v: want WorkdirRelativePath and no skipped rule", rules)
	}
	if !r.Failed() {
		t.Error("error=true: report not failed")
	}
	r, err = Run(context.Background(), []byte("FROM scratch AS Build\nMAINTAINER me\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Failed() || r.Count(LevelWarning) == 0 {
		t.Errorf("without error=true: failed %v, %d warnings", r.Failed(), r.Count(LevelWarning))
	}
	r, err = Run(context.Background(), []byte("# check=skip=all\nFROM scratch AS Build\nMAINTAINER me\n"))
	if err != nil || len(r.Findings) != 0 {
		t.Errorf("skip=all: %v, %v", r.Findings, err)
	}
	if _, err := Run(context.Background(), []byte("# check=bogus\nFROM scratch\n")); err == nil {
		t.Error("bad check directive: no error")
	}
}

// TestPin: with WithPin the fix of UnpinnedBaseImage names the digest the
// registry has for the tag.
func TestPin(t *testing.T) {
	host, digests := testRegistry(t)
	src := []byte("FROM " + host + "/app\n")
	r, err := Run(context.Background(), src, WithResolver(&RemoteResolver{}), WithPin(true), WithPlatform(amd64, amd64))
	if err != nil {
		t.Fatal(err)
	}
	var fix string
	for _, f := range r.Findings {
		if f.Rule == "UnpinnedBaseImage" {
			fix = f.Fix
		}
	}
	if want := host + "/app@" + digests["app:latest"]; !strings.Contains(fix, want) {
		t.Errorf("fix %q does not contain %q", fix, want)
	}
}

func TestHumanOutput(t *testing.T) {
	r, err := Run(context.Background(), []byte("FROM scratch\nMAINTAINER me\n"), WithName("Dockerfile.x"))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteHuman(&b, r); err != nil {
		t.Fatal(err)
	}
	want := "Dockerfile.x:2  MaintainerDeprecated  Maintainer instruction is deprecated in favor of using label\n" +
		"    fix: LABEL org.opencontainers.image.authors=\"me\"\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("human output:\n%s\nwant it to contain:\n%s", b.String(), want)
	}
}

// hostOnly resolves only images of the test registry (the tests have no
// internet; anything else is unknown, as an unreachable registry would be).
type hostOnly struct{ host string }

func (h hostOnly) Resolve(ctx context.Context, ref string, p parser.Platform) (*Image, error) {
	if !strings.HasPrefix(ref, h.host+"/") {
		return nil, fmt.Errorf("resolve %s: not in the test registry", ref)
	}
	return (&RemoteResolver{}).Resolve(ctx, ref, p)
}

// TestContextBloatBigFile: a file over 10 MB that no COPY names is
// reported with its size; one that a COPY names is not.
func TestContextBloatBigFile(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{"big.bin", "data.bin"} {
		f, err := os.Create(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(11 << 20); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	src := []byte("FROM scratch\nCOPY . /app\nCOPY data.bin /data/\n")
	r, err := Run(context.Background(), src, WithContext(dir, nil))
	if err != nil {
		t.Fatal(err)
	}
	var got []Finding
	for _, f := range r.Findings {
		if f.Rule == "ContextBloat" {
			got = append(got, f)
		}
	}
	if len(got) != 1 || got[0].Bytes != 11<<20 || !strings.Contains(got[0].Message, "big.bin") || got[0].Line != 2 {
		t.Fatalf("ContextBloat findings %+v, want one for big.bin at line 2 with %d bytes", got, 11<<20)
	}
}

// TestTargetFinalStage: RootUser looks at the --target stage, not the last.
func TestTargetFinalStage(t *testing.T) {
	src := []byte("FROM scratch AS app\nUSER 1000\nFROM scratch AS debug\nCOPY --from=app / /\n")
	for _, tt := range []struct {
		target string
		want   []string
	}{{"", []string{"3 the final stage has no USER: the image runs as root"}}, {"app", []string{}}} {
		r, err := Run(context.Background(), src, WithTarget(tt.target))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.want, lines(r, "RootUser", "")); diff != "" {
			t.Errorf("target %q: RootUser (-want +got):\n%s", tt.target, diff)
		}
	}
}

func replaceHost(s, host string) string {
	if host == "" {
		return s
	}
	return strings.ReplaceAll(s, host, "$REG")
}

// TestNamedContexts: a FROM of a --build-context name is no registry image,
// so it is neither unpinned nor resolved.
func TestNamedContexts(t *testing.T) {
	src := []byte("FROM busybox\nUSER 1000\nFROM alpine\nUSER 1000\n")
	r, err := Run(context.Background(), src, WithNamedContexts([]string{"busybox"}), WithResolver(failResolver{t}))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range r.Findings {
		if f.Rule == "UnpinnedBaseImage" {
			got = append(got, f.Message)
		}
	}
	if len(got) != 1 || !strings.Contains(got[0], "alpine") {
		t.Errorf("UnpinnedBaseImage findings %q, want only alpine's", got)
	}
}

// failResolver fails the test when asked for busybox (a named context).
type failResolver struct{ t *testing.T }

func (f failResolver) Resolve(_ context.Context, ref string, _ parser.Platform) (*Image, error) {
	if ref == "busybox" {
		f.t.Errorf("named context %q was resolved", ref)
	}
	return nil, errors.New("not resolvable here")
}
