package exporter

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Exporter writes a finished image to one place. There is one
// implementation per output type: OCITar, DockerTar, RootfsTar, LocalDir
// and (through a Pusher) a registry push.
type Exporter interface {
	Export(ctx context.Context, img v1.Image) (Result, error)
}

// Result is what one export did.
type Result struct {
	// Pushed lists the pushes of a registry export, in order. When Export
	// fails it still lists the pushes that finished.
	Pushed []Pushed
}

// Pushed is one finished push: the ref, the manifest digest the registry
// has and the manifest's size.
type Pushed struct {
	Ref    string
	Digest v1.Hash
	Size   int64
}

// Dest is where a tar output goes: a file, written atomically, or a
// stream such as standard output.
type Dest struct {
	path string
	w    io.Writer
}

// File is a destination file: written to a temp file beside it and
// renamed into place (mode 0644) only when complete.
func File(path string) Dest { return Dest{path: path} }

// Stream is a destination writer, written as the export goes.
func Stream(w io.Writer) Dest { return Dest{w: w} }

// String names the destination in errors.
func (d Dest) String() string {
	if d.w != nil {
		return "-"
	}
	return d.path
}

// write runs fn on the destination.
func (d Dest) write(fn func(io.Writer) error) error {
	if d.w != nil {
		return fn(d.w)
	}
	dest := d.path
	f, err := os.CreateTemp(filepath.Dir(dest), "."+filepath.Base(dest)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", dest, err)
	}
	defer os.Remove(f.Name())
	if err := fn(f); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", dest, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", dest, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", dest, err)
	}
	if err := os.Rename(f.Name(), dest); err != nil {
		return fmt.Errorf("write %s: %w", dest, err)
	}
	return nil
}

// OCITar writes an OCI image layout tar (type=oci), see WriteOCI.
type OCITar struct {
	dest Dest
	name string
	opts []Option
}

// NewOCITar writes to dest; name, if not empty, names the index entry.
func NewOCITar(dest Dest, name string, opts ...Option) *OCITar {
	return &OCITar{dest: dest, name: name, opts: opts}
}

// Export writes img.
func (e *OCITar) Export(ctx context.Context, img v1.Image) (Result, error) {
	return Result{}, e.dest.write(func(w io.Writer) error { return WriteOCI(ctx, w, img, e.name, e.opts...) })
}

// DockerTar writes a `docker load`-able tar (type=docker), see WriteDocker.
type DockerTar struct {
	dest  Dest
	names []string
	opts  []Option
}

// NewDockerTar writes to dest; names are the RepoTags.
func NewDockerTar(dest Dest, names []string, opts ...Option) *DockerTar {
	return &DockerTar{dest: dest, names: names, opts: opts}
}

// Export writes img.
func (e *DockerTar) Export(ctx context.Context, img v1.Image) (Result, error) {
	return Result{}, e.dest.write(func(w io.Writer) error { return WriteDocker(ctx, w, img, e.names, e.opts...) })
}

// RootfsTar writes the image's root file system as one tar (type=tar),
// see WriteRootfsTar.
type RootfsTar struct{ dest Dest }

// NewRootfsTar writes to dest.
func NewRootfsTar(dest Dest) *RootfsTar { return &RootfsTar{dest: dest} }

// Export writes img's root file system.
func (e *RootfsTar) Export(ctx context.Context, img v1.Image) (Result, error) {
	return Result{}, e.dest.write(func(w io.Writer) error { return WriteRootfsTar(ctx, w, img) })
}

// LocalDir writes the image's root file system into a directory
// (type=local), see WriteLocal.
type LocalDir struct{ dir string }

// NewLocalDir writes into dir, creating it if needed.
func NewLocalDir(dir string) *LocalDir { return &LocalDir{dir: dir} }

// Export writes img's root file system.
func (e *LocalDir) Export(ctx context.Context, img v1.Image) (Result, error) {
	return Result{}, WriteLocal(ctx, img, e.dir)
}

// pushExporter pushes to refs through a Pusher (type=image,push=true,
// type=registry, --push).
type pushExporter struct {
	p    *Pusher
	refs []string
	conv []Option
}

// Export pushes img to every ref.
func (e *pushExporter) Export(ctx context.Context, img v1.Image) (Result, error) {
	pushed, err := e.p.exportPush(ctx, img, e.refs, e.conv)
	return Result{Pushed: pushed}, err
}

// String names the push in errors, messages and tests.
func (e *pushExporter) String() string { return "push " + strings.Join(e.refs, ",") }

var (
	_ Exporter = (*OCITar)(nil)
	_ Exporter = (*DockerTar)(nil)
	_ Exporter = (*RootfsTar)(nil)
	_ Exporter = (*LocalDir)(nil)
	_ Exporter = (*pushExporter)(nil)
)

// String names the output in messages.
func (e *OCITar) String() string { return "oci tar " + e.dest.String() }

// String names the output in messages.
func (e *DockerTar) String() string { return "docker tar " + e.dest.String() }

// String names the output in messages.
func (e *RootfsTar) String() string { return "rootfs tar " + e.dest.String() }

// String names the output in messages.
func (e *LocalDir) String() string { return "local dir " + e.dir }
