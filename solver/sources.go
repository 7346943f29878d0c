package solver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/builderdev/builder/internal/filecopy"
	"github.com/builderdev/builder/parser"
	"github.com/builderdev/builder/snapshot"
)

// Sources are what COPY --from, RUN --mount from= and the build context
// name: an earlier stage, an image, or a local source. The build context
// and local directory contexts (--build-context NAME=DIR) are local
// sources: one FS each (the build context with .dockerignore applied),
// read by COPY, hashed for every key that depends on them and materialized
// for RUN --mount=type=bind, so that what a step sees is what its key
// covers.

// contextFS is the build context with .dockerignore applied.
func (b *build) contextFS() filecopy.FS {
	b.ctxOnce.Do(func() { b.ctxFS = filecopy.DirFS(b.contextDir, b.req.Ignore) })
	return b.ctxFS
}

// sourceState is the state a --from names that is not a local source: an
// earlier stage or an image.
func (b *build) sourceState(ctx context.Context, from string) (*state, error) {
	cur := len(b.df.Stages)
	if j, ok := b.stageIndex(from, cur); ok {
		return b.waitStage(ctx, j)
	}
	img, err := b.resolveImage(ctx, from, b.platform)
	if err != nil {
		return nil, err
	}
	return &state{cfg: img.Config, layers: img.Layers, key: keyOf(map[string]string{"image": img.Digest.String()})}, nil
}

// sourceFS is the file system of a --from source, or the build context,
// and the "source" input of a COPY from it. The input names the kind of
// source only: the COPY's key has the checksum of the files it reads (and
// their owners), so a stage rebuilt with other inputs that yields the same
// files keeps the COPY cached, as BuildKit's content-based keys do.
func (b *build) sourceFS(ctx context.Context, from string) (filecopy.FS, string, error) {
	if fsys, ok := b.localFS(from); ok {
		return fsys, localSourceKey(from), nil
	}
	src, err := b.sourceState(ctx, from)
	if err != nil {
		return nil, "", err
	}
	dirs, err := b.lowerDirs(ctx, src)
	if err != nil {
		return nil, "", err
	}
	kind := "image"
	if _, isStage := b.stageIndex(from, len(b.df.Stages)); isStage {
		kind = "stage"
	}
	return snapshot.NewView(dirs), keyOf(map[string]string{"source": kind}).String(), nil
}

// localFS is the FS of a local source: the build context when from is
// empty, a local directory context it names, else ok is false (a stage or
// an image).
func (b *build) localFS(from string) (fsys filecopy.FS, ok bool) {
	if from == "" {
		return b.contextFS(), true
	}
	if _, isStage := b.stageIndex(from, len(b.df.Stages)); isStage {
		return nil, false
	}
	if nc, ok := b.namedContext(from); ok && nc.kind == contextDir {
		return filecopy.DirFS(nc.target, nil), true
	}
	return nil, false
}

// localSourceKey is the "source" input of a COPY from a local source. It
// names the kind of source, never its path: the step's key has the digest
// of the files it reads, so one content at two paths is one key.
func localSourceKey(from string) string {
	if from == "" {
		return "context"
	}
	return keyOf(map[string]string{"context": "local"}).String()
}

// localSourceName resolves a mount's source= inside a local source.
func localSourceName(fsys filecopy.FS, m *parser.Mount) (string, error) {
	name, err := filecopy.ResolveName(fsys, m.Source)
	if err != nil {
		return "", fmt.Errorf("%s mount %s: %w", mountType(m), m.Source, err)
	}
	return name, nil
}

// localMountInput is the cache-key input of a mount of a local source: the
// digest of the tree the mount shows.
func (b *build) localMountInput(ctx context.Context, fsys filecopy.FS, m *parser.Mount) (string, error) {
	name, err := localSourceName(fsys, m)
	if err != nil {
		return "", err
	}
	sum, err := filecopy.TreeSum(ctx, b.s.store.CPU(), fsys, name, b.s.stats)
	if err != nil {
		return "", fmt.Errorf("%s mount %s: %w", mountType(m), m.Source, err)
	}
	return sum.String(), nil
}

// materializeLocal writes what a mount of a local source shows into
// work/src (hard links where possible) and returns that path: the mount
// never sees a file the FS hides.
func (b *build) materializeLocal(ctx context.Context, fsys filecopy.FS, m *parser.Mount, work string) (string, error) {
	name, err := localSourceName(fsys, m)
	if err != nil {
		return "", err
	}
	dst := filepath.Join(work, "src")
	if err := os.MkdirAll(work, 0o700); err != nil {
		return "", fmt.Errorf("%s mount %s: %w", mountType(m), m.Source, err)
	}
	if err := filecopy.Materialize(ctx, fsys, name, dst); err != nil {
		return "", fmt.Errorf("%s mount %s: %w", mountType(m), m.Source, err)
	}
	return dst, nil
}

func mountType(m *parser.Mount) string {
	if m.Type == "" {
		return parser.MountBind
	}
	return m.Type
}

// Named build contexts (--build-context NAME=VALUE).
type contextKind int

const (
	contextDir contextKind = iota
	contextOCILayout
	contextDockerImage
)

type namedContext struct {
	kind   contextKind
	target string
}

// ParseNamedContext checks one --build-context value.
func parseNamedContext(value string) (namedContext, error) {
	switch {
	case strings.HasPrefix(value, "oci-layout://"):
		return namedContext{kind: contextOCILayout, target: strings.TrimPrefix(value, "oci-layout://")}, nil
	case strings.HasPrefix(value, "docker-image://"):
		return namedContext{kind: contextDockerImage, target: strings.TrimPrefix(value, "docker-image://")}, nil
	case strings.Contains(value, "://"):
		return namedContext{}, fmt.Errorf("unsupported build context %q (want oci-layout://, docker-image:// or a directory)", value)
	}
	abs, err := filepath.Abs(value)
	if err != nil {
		return namedContext{}, fmt.Errorf("build context %q: %w", value, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return namedContext{}, fmt.Errorf("build context %q: %w", value, err)
	}
	if !fi.IsDir() {
		return namedContext{}, fmt.Errorf("build context %q: %w", value, errors.New("not a directory"))
	}
	return namedContext{kind: contextDir, target: abs}, nil
}

func (b *build) namedContext(ref string) (namedContext, bool) {
	nc, ok := b.contexts[strings.ToLower(ref)]
	if !ok {
		// docker accepts "docker.io/library/alpine" contexts for "alpine".
		if r, err := name.ParseReference(ref); err == nil {
			nc, ok = b.contexts[strings.ToLower(r.Context().RepositoryStr())]
		}
	}
	return nc, ok
}
