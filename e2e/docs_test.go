package e2e_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
)

// docCommand is the builder command line of one doc, found in its
// complete file, and what stands in for the doc's registry and variables.
type docCommand struct {
	doc   string
	hosts []string          // registry hosts the test registry replaces
	vars  map[string]string // variables the command uses ($V, ${V}, $(V))
	tags  []string          // the refs the command must push (after substitution)
}

// TestDocsCommands runs the builder command of docs/kubernetes.md,
// docs/github-actions.md and docs/gitlab-ci.md in a simulated unprivileged
// pod whose root is builder's own image, against a TLS registry with basic
// auth that stands in for ECR and GHCR: every tag is pushed, and a second
// run with an empty store gets its steps from the registry cache.
func TestDocsCommands(t *testing.T) {
	testenv.LeakCheck(t)
	reg := testenv.StartRegistry(t, testenv.WithTLS(), testenv.WithBasicAuth("ci", "s3cret"))
	base := testenv.PushBusybox(t, reg)
	h := reg.Host()
	const ecr = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
	docs := []docCommand{
		{"kubernetes.md", []string{ecr, "ghcr.io"}, map[string]string{"GIT_SHA": "0123abc"},
			[]string{h + "/app:0123abc", h + "/org/app:0123abc"}},
		{"github-actions.md", nil, map[string]string{"IMAGE": h + "/gh/app", "GITHUB_SHA": "0123abc"},
			[]string{h + "/gh/app:0123abc", h + "/gh/app:latest"}},
		{"gitlab-ci.md", nil, map[string]string{"IMAGE": h + "/gl/app", "CI_COMMIT_SHA": "0123abc", "CI_COMMIT_REF_SLUG": "main"},
			[]string{h + "/gl/app:0123abc", h + "/gl/app:main"}},
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		t.Run(d.doc, func(t *testing.T) {
			text, err := os.ReadFile(filepath.Join(root, "docs", d.doc))
			if err != nil {
				t.Fatal(err)
			}
			args := docBuilderArgs(t, string(text))
			for i, a := range args {
				for _, host := range d.hosts {
					a = strings.ReplaceAll(a, host, h)
				}
				args[i] = expandDocVars(t, a, d.vars)
			}
			t.Logf("doc command: builder %s", strings.Join(args, " "))
			p := newImagePod(t)
			writeFile(t, p.path("/workspace/Dockerfile"), "FROM "+base+"\nRUN echo built > /built\n")
			writeFile(t, p.path("/workspace/.dockerignore"), "busybox\n")
			copyInto(t, reg.CAFile, p.path("/etc/builder/ca.crt"), 0o644)
			copyInto(t, filepath.Join(reg.DockerConfigDir(t), "config.json"), p.path("/etc/builder/docker/config.json"), 0o644)
			pod := testenv.Pod{HostNetwork: true, Args: append([]string{"/usr/local/bin/builder"}, args...),
				Env: []string{"DOCKER_CONFIG=/etc/builder/docker", "SSL_CERT_FILE=/etc/builder/ca.crt"}}
			for run := 1; run <= 2; run++ {
				log, code := p.run(t, pod)
				if code != 0 {
					t.Fatalf("run %d of the doc's command in the pod: exit %d\n%s", run, code, log)
				}
				checkLevel(t, "chroot", log)
				if run == 2 && !strings.Contains(log, stepNumber(t, log, "[2/2] RUN echo built > /built")+" CACHED") {
					t.Errorf("run 2 with an empty store did not take the RUN step from the registry cache:\n%s", log)
				}
				// The next run starts with an empty store, as a new pod does.
				store := p.path("/home/builder/.local/share/builder")
				if err := os.RemoveAll(store); err != nil {
					t.Fatal(err)
				}
				mkdir(t, store, 0o755)
			}
			for _, ref := range d.tags {
				var m struct{ Digest string }
				if err := json.Unmarshal(testenv.SkopeoInspect(t, "docker://"+ref, reg.SkopeoFlags("")...), &m); err != nil || m.Digest == "" {
					t.Errorf("%s was not pushed: %v", ref, err)
				}
			}
		})
	}
}

// docBuilderArgs finds the builder command of a doc: a Kubernetes
// `args: ["build", ...]` list, or the first shell line that runs `builder
// build` with its continuation lines (backslash, or a folded YAML scalar).
func docBuilderArgs(t *testing.T, text string) []string {
	t.Helper()
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		if j := strings.Index(line, `args: ["build"`); j >= 0 {
			flow := line[j+len("args: "):]
			for k := i + 1; !strings.Contains(flow, "]") && k < len(lines); k++ {
				flow += " " + strings.TrimSpace(lines[k])
			}
			var args []string
			if err := json.Unmarshal([]byte(flow[:strings.Index(flow, "]")+1]), &args); err != nil {
				t.Fatalf("decode the Job's args %q: %v", flow, err)
			}
			return args
		}
		j := strings.Index(line, "builder build ")
		if j < 0 || strings.Contains(line, "`") {
			continue
		}
		folded := i > 0 && strings.HasSuffix(strings.TrimSpace(lines[i-1]), "- >")
		indent := len(line) - len(strings.TrimLeft(line, " "))
		cmd := strings.TrimSpace(line[j+len("builder "):])
		for k := i + 1; k < len(lines); k++ {
			next := lines[k]
			switch {
			case strings.HasSuffix(cmd, "\\"):
				cmd = strings.TrimSuffix(cmd, "\\") + " " + strings.TrimSpace(next)
				continue
			case folded && strings.TrimSpace(next) != "" && len(next)-len(strings.TrimLeft(next, " ")) >= indent:
				cmd += " " + strings.TrimSpace(next)
				continue
			}
			break
		}
		return shellWords(t, cmd)
	}
	t.Fatal("no builder command in the doc")
	return nil
}

// shellWords splits a shell command into words: whitespace outside quotes
// separates them, quotes are removed (variables are expanded later).
func shellWords(t *testing.T, cmd string) []string {
	t.Helper()
	var words []string
	var cur strings.Builder
	in, quote := false, rune(0)
	for _, r := range cmd {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
			cur.WriteRune(r)
		case r == '"' || r == '\'':
			quote, in = r, true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		t.Fatalf("unbalanced quote in %q", cmd)
	}
	if in {
		words = append(words, cur.String())
	}
	return words
}

var docVar = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// expandDocVars replaces $V, ${V} and $(V) (Kubernetes) with vars[V]; a
// variable the test does not know fails it.
func expandDocVars(t *testing.T, s string, vars map[string]string) string {
	t.Helper()
	return docVar.ReplaceAllStringFunc(s, func(m string) string {
		sub := docVar.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		v, ok := vars[name]
		if !ok {
			t.Fatalf("the doc's command uses $%s, which the test does not set", name)
		}
		return v
	})
}
