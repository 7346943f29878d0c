package layering

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/builderdev/builder/"

// allowed lists, for each package, the packages of ours it may import
// (directly or not). Lower layers never import higher ones.
var allowed = map[string][]string{
	"ctxio":        {},
	"procowner":    {},
	"parser/shell": {},
	"parser":       {"parser/shell"},
	"user":         {},
	"store":        {"ctxio", "procowner", "internal/layer"},
	"snapshot":     {"procowner", "internal/mount"},
	"executor":     {"procowner", "internal/mount"},
	"filecopy":     {"ctxio", "parser", "parser/shell", "user", "internal/layer"},
	"registry":     {}, // knows no solver, exporter or cache
	"exporter":     {"ctxio", "procowner", "store", "registry", "internal/layer"},
	"cache":        {"ctxio", "procowner", "store", "registry", "internal/layer"},
	// check lints Dockerfiles: it reads the context through filecopy and
	// base images through go-containerregistry, never builds or stores.
	"check":  {"parser", "parser/shell", "filecopy", "ctxio", "user", "internal/layer"},
	"solver": {"ctxio", "procowner", "internal/mount", "internal/layer", "parser", "parser/shell", "user", "store", "snapshot", "executor", "filecopy", "exporter", "cache", "registry"},

	// Building blocks under internal/ that the packages above share (not
	// test helpers).
	"internal/mount": {},
	"internal/layer": {},
}

func TestImportsFlowOneWay(t *testing.T) {
	for pkg, ok := range allowed {
		t.Run(pkg, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", module+pkg).Output()
			if err != nil {
				t.Fatalf("go list %s: %v", pkg, err)
			}
			okSet := map[string]bool{pkg: true}
			for _, o := range ok {
				okSet[o] = true
			}
			for _, dep := range strings.Fields(string(out)) {
				if !strings.HasPrefix(dep, module) {
					continue
				}
				name := strings.TrimPrefix(dep, module)
				if _, shared := allowed[name]; strings.HasPrefix(name, "internal/") && !shared {
					t.Errorf("%s imports %s: internal test helpers are for tests only", pkg, name)
					continue
				}
				if !okSet[name] {
					t.Errorf("%s imports %s, against the layering", pkg, name)
				}
			}
		})
	}
}

// TestRegistryKnowsNoSolver: the registry package is below the solver,
// the exporter and the cache, which all reach registries through it.
func TestRegistryKnowsNoSolver(t *testing.T) {
	deps := func(pkg string) map[string]bool {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", module+pkg).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", pkg, err)
		}
		m := map[string]bool{}
		for _, d := range strings.Fields(string(out)) {
			m[strings.TrimPrefix(d, module)] = true
		}
		return m
	}
	reg := deps("registry")
	for _, up := range []string{"solver", "exporter", "cache"} {
		if reg[up] {
			t.Errorf("registry imports %s", up)
		}
		if !deps(up)["registry"] {
			t.Errorf("%s does not use the registry package", up)
		}
	}
}

// TestBuildkitOnlyParser keeps our own imports of buildkit to its
// Dockerfile syntax parser (which itself uses a few buildkit packages).
func TestBuildkitOnlyParser(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "github.com/builderdev/builder/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		for _, dep := range f[1:] {
			if strings.HasPrefix(dep, "github.com/moby/buildkit/") && dep != "github.com/moby/buildkit/frontend/dockerfile/parser" {
				t.Errorf("%s imports %s: only buildkit's frontend/dockerfile/parser may be used", f[0], dep)
			}
		}
	}
}
