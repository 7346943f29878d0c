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
	"internal/ctxio":     {},
	"internal/procowner": {},
	"internal/cpulimit":  {},
	"parser/shell":       {},
	"parser":             {"parser/shell"},
	"internal/user":      {},
	"store":              {"internal/cpulimit", "internal/ctxio", "internal/procowner", "internal/layer", "internal/platform"},
	"snapshot":           {"internal/cpulimit", "internal/ctxio", "internal/procowner", "internal/mount", "internal/fsroot", "internal/userns", "internal/layer"},
	"executor":           {"internal/procowner", "internal/mount", "internal/fsroot", "internal/userns"},
	"internal/filecopy":  {"internal/cpulimit", "internal/ctxio", "parser", "parser/shell", "internal/user", "internal/layer", "internal/fsroot"},
	"registry":           {}, // knows no solver, exporter or cache
	"exporter":           {"internal/cpulimit", "internal/ctxio", "internal/procowner", "store", "registry", "snapshot", "internal/mount", "internal/layer", "internal/fsroot", "internal/userns", "internal/attest", "internal/platform"},
	"cache":              {"internal/cpulimit", "internal/ctxio", "internal/procowner", "store", "registry", "internal/layer", "internal/platform"},
	"solver":             {"internal/cpulimit", "internal/ctxio", "internal/procowner", "internal/mount", "internal/layer", "internal/fsroot", "internal/imagesource", "parser", "parser/shell", "internal/user", "store", "snapshot", "executor", "internal/filecopy", "exporter", "cache", "registry", "internal/userns", "internal/attest", "internal/platform"},
	// The pipeline: everything below it, nothing above (see
	// TestNothingImportsBuildOrCmd).
	"build": {"internal/cpulimit", "internal/ctxio", "internal/procowner", "internal/mount", "internal/layer", "internal/fsroot", "internal/userns", "internal/imagesource", "parser", "parser/shell", "internal/user", "store", "snapshot", "executor", "internal/filecopy", "exporter", "cache", "registry", "solver", "internal/attest", "internal/platform"},
	// check lints Dockerfiles: it reads the context through filecopy and
	// base images through a Resolver the caller gives; never builds or stores.
	"check": {"internal/cpulimit", "parser", "parser/shell", "internal/filecopy", "internal/ctxio", "internal/user", "internal/layer", "internal/fsroot"},

	// Building blocks under internal/ that the packages above share (not
	// test helpers).
	"internal/mount":  {},
	"internal/layer":  {},
	"internal/fsroot": {},
	"internal/userns": {},
	// Base images from a layout, the store or a registry, into the store.
	"internal/imagesource": {"internal/ctxio", "internal/procowner", "internal/layer", "store", "registry", "internal/platform", "internal/cpulimit"},
	// Provenance and SBOM predicates (exporter stores them).
	"internal/attest": {},
	// Platform names, index selection and binfmt_misc detection.
	"internal/platform": {},
	// The size report that cmd/builder prints: it reads images only.
	"internal/imagesize": {"internal/layer"},
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

// TestNothingImportsBuildOrCmd: the pipeline (build) and the command
// (cmd/...) are the top of the graph. Only cmd/builder imports build, and
// no package imports anything under cmd. Test files count too, except
// build's own external tests.
func TestNothingImportsBuildOrCmd(t *testing.T) {
	out, err := exec.Command("go", "list", "-f",
		`{{.ImportPath}} {{join .Imports " "}} {{join .TestImports " "}} {{join .XTestImports " "}}`, module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := false
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkg := strings.TrimPrefix(f[0], module)
		for _, dep := range f[1:] {
			name, ours := strings.CutPrefix(dep, module)
			switch {
			case !ours || name == pkg:
			case name == "build" && pkg == "cmd/builder":
				seen = true
			case name == "build":
				t.Errorf("%s imports build: only cmd/builder may", pkg)
			case name == "cmd" || strings.HasPrefix(name, "cmd/"):
				t.Errorf("%s imports %s: nothing imports a command", pkg, name)
			}
		}
	}
	if !seen {
		t.Error("cmd/builder does not import build: the pipeline is not where it should be")
	}
}

// forbidden are imports that must never appear, not even in a package's
// tests, each with the reason the lower package stays ignorant of the
// higher one.
var forbidden = []struct{ pkg, dep, why string }{
	{"store", "cache", "the store owns its layout, usage and garbage collection; " +
		"cache decides what to drop and calls store methods, never the other way round"},
}

func TestForbiddenImports(t *testing.T) {
	for _, f := range forbidden {
		t.Run(f.pkg+"-"+f.dep, func(t *testing.T) {
			out, err := exec.Command("go", "list", "-deps", "-test", "-f", "{{.ImportPath}}", module+f.pkg).Output()
			if err != nil {
				t.Fatalf("go list %s: %v", f.pkg, err)
			}
			for _, dep := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				dep, _, _ = strings.Cut(dep, " ") // "pkg [pkg.test]" for test variants
				if dep == module+f.dep || strings.HasPrefix(dep, module+f.dep+"/") {
					t.Errorf("%s (or its tests) imports %s: %s", f.pkg, f.dep, f.why)
				}
			}
		})
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
