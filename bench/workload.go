package bench

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// Phase is one way of running a workload.
type Phase string

// Phases of a workload.
const (
	// Cold: an empty store and cache; the base image is present locally.
	Cold Phase = "cold"
	// NoOp: the same build again on a warm cache, nothing changed.
	NoOp Phase = "no-op"
	// OneFile: one file of the context changed since the last build.
	OneFile Phase = "one-file"
	// AppChanged: one file of the application's sources changed (W6); the
	// dependency install stays cached.
	AppChanged Phase = "app-changed"
)

// Workload is a fixed build: a Dockerfile, a generated context and the
// phases it is measured in.
type Workload struct {
	Name  string // W1, W2, ...
	Title string
	// Dockerfile uses `FROM busybox`, the harness's busybox image.
	Dockerfile string
	// Files regular files of FileSize bytes (pseudo-random, so they do not
	// compress) are generated in the context, 100 per directory.
	Files, FileSize int
	Phases          []Phase
	// Extra are more context files: slash path → content.
	Extra map[string]string
	// OCIExport: the result is exported as an OCI image tar, not just
	// stored.
	OCIExport bool
	// Push: the result is pushed to the harness's registry.
	Push bool
	// MinExport is the least size of a correct OCI export (a check that
	// the tool did the work: W3's random data does not compress).
	MinExport int64
}

// Workloads returns the benchmark's workloads, W1 to W6.
func Workloads() []Workload {
	return []Workload{
		{
			Name:  "W1",
			Title: "3 stages, 2 independent `RUN sleep 1`, COPY of 2,000 files, RUN",
			Dockerfile: `FROM busybox AS left
RUN sleep 1 && echo left > /left.txt

FROM busybox AS right
RUN sleep 1 && echo right > /right.txt

FROM busybox
COPY --from=left /left.txt /out/left.txt
COPY --from=right /right.txt /out/right.txt
COPY . /ctx/
RUN find /ctx -type f | wc -l > /out/count && wc -c /ctx/d000/f00000 >> /out/count
`,
			Files: 2000, FileSize: 1024,
			Phases: []Phase{Cold, NoOp, OneFile},
		},
		{
			Name:       "W2",
			Title:      "COPY of a 20,000-file / 200 MB context",
			Dockerfile: "FROM busybox\nCOPY . /ctx/\n",
			Files:      20000, FileSize: 10000,
			Phases: []Phase{Cold, NoOp},
		},
		{
			Name:  "W3",
			Title: "RUN writing 300 MB (/dev/urandom), exported as an OCI tar",
			Dockerfile: "FROM busybox\n" +
				"RUN dd if=/dev/urandom of=/big bs=1048576 count=300 2>/dev/null && ls -l /big\n",
			Phases:    []Phase{Cold},
			OCIExport: true,
			MinExport: 300 << 20,
		},
		{
			Name:  "W4",
			Title: "4 independent stages (`RUN sleep 1` + 8 MB each), joined",
			Dockerfile: func() string {
				var b strings.Builder
				for i := 1; i <= 4; i++ {
					fmt.Fprintf(&b, "FROM busybox AS s%d\nRUN sleep 1 && dd if=/dev/zero of=/out bs=1048576 count=8 2>/dev/null\n\n", i)
				}
				b.WriteString("FROM busybox\n")
				for i := 1; i <= 4; i++ {
					fmt.Fprintf(&b, "COPY --from=s%d /out /s%d\n", i, i)
				}
				return b.String()
			}(),
			Phases: []Phase{Cold},
		},
		{
			Name:  "W5",
			Title: "W3's image (RUN writing 300 MB) pushed to the local registry",
			Dockerfile: "FROM busybox\n" +
				"RUN dd if=/dev/urandom of=/big bs=1048576 count=300 2>/dev/null && ls -l /big\n",
			Phases: []Phase{Cold},
			Push:   true,
		},
		{
			Name: "W6",
			Title: "multi-stage app: COPY of the dependency manifest, RUN installing 5,000 small files, " +
				"COPY of the app (200 files), build RUN, final stage copying the output",
			Dockerfile: `FROM busybox AS build
WORKDIR /src
COPY deps.txt ./
RUN mkdir -p /deps && while read -r pkg n; do mkdir -p /deps/$pkg && i=0 && while [ $i -lt $n ]; do echo "$pkg file $i" > /deps/$pkg/f$i.js; i=$((i+1)); done; done < deps.txt
COPY . ./
RUN mkdir -p /out && cat d000/* d001/* > /out/app.bin && ls /deps | wc -l > /out/deps.count

FROM busybox
COPY --from=build /deps /app/node_modules
COPY --from=build /out /app
`,
			Files: 200, FileSize: 4096,
			Extra:  map[string]string{"deps.txt": depsManifest(50, 100)},
			Phases: []Phase{Cold, AppChanged},
		},
	}
}

// depsManifest lists pkgs packages of files files each, one "name count"
// line per package: W6's install step writes pkgs*files files.
func depsManifest(pkgs, files int) string {
	var b strings.Builder
	for i := 0; i < pkgs; i++ {
		fmt.Fprintf(&b, "pkg%02d %d\n", i, files)
	}
	return b.String()
}

// Prepare writes dir/Dockerfile and the context dir/context (the Dockerfile
// is outside the context) and returns their paths.
func (w Workload) Prepare(dir string) (dockerfile, contextDir string, err error) {
	dockerfile = filepath.Join(dir, "Dockerfile")
	contextDir = filepath.Join(dir, "context")
	if err := os.MkdirAll(contextDir, 0o755); err != nil {
		return "", "", fmt.Errorf("create context dir: %w", err)
	}
	if err := os.WriteFile(dockerfile, []byte(w.Dockerfile), 0o644); err != nil {
		return "", "", fmt.Errorf("write dockerfile: %w", err)
	}
	rng := rand.NewChaCha8([32]byte{'b', 'e', 'n', 'c', 'h'})
	buf := make([]byte, w.FileSize)
	for i := 0; i < w.Files; i++ {
		name := filepath.Join(contextDir, contextFile(i))
		if i%100 == 0 {
			if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
				return "", "", fmt.Errorf("create context dir: %w", err)
			}
		}
		_, _ = rng.Read(buf) // never fails
		if err := os.WriteFile(name, buf, 0o644); err != nil {
			return "", "", fmt.Errorf("write context file: %w", err)
		}
	}
	for name, content := range w.Extra {
		p := filepath.Join(contextDir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", "", fmt.Errorf("create context dir: %w", err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			return "", "", fmt.Errorf("write context file: %w", err)
		}
	}
	return dockerfile, contextDir, nil
}

// contextFile is the slash path of the i-th generated file.
func contextFile(i int) string { return fmt.Sprintf("d%03d/f%05d", i/100, i) }

// ChangeOneFile rewrites the first file of the context with content that
// depends on n, so that every n gives a context never seen before.
func ChangeOneFile(contextDir string, n int) error {
	name := filepath.Join(contextDir, contextFile(0))
	if err := os.WriteFile(name, fmt.Appendf(nil, "changed %d\n", n), 0o644); err != nil {
		return fmt.Errorf("change context file: %w", err)
	}
	return nil
}
