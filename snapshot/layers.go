package snapshot

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/singleflight"
	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/cpulimit"
	"github.com/builderdev/builder/internal/procowner"
)

// Layers keeps extracted layers under one directory, one subdirectory per
// diffID hex, shared by every build and process using that directory.
type Layers struct {
	dir   string
	opts  extractOptions
	cpu   *cpulimit.Limiter
	group singleflight.Group
	clean sync.Once
}

// LayersOption configures NewLayers.
type LayersOption func(*Layers)

// WithCPULimiter makes each extraction hold one slot of l while it
// decompresses and writes files (nil: no bound).
func WithCPULimiter(l *cpulimit.Limiter) LayersOption { return func(ls *Layers) { ls.cpu = l } }

// WithExtractOptions bounds each extraction as opts say (WithMaxExtractSize).
func WithExtractOptions(opts ...ExtractOption) LayersOption {
	return func(ls *Layers) { ls.opts = extractConfig(opts) }
}

// NewLayers returns the layer set kept in dir (created on first use). The
// first Ensure removes extraction directories left by dead processes.
func NewLayers(dir string, opts ...LayersOption) *Layers {
	l := &Layers{dir: dir}
	for _, o := range opts {
		o(l)
	}
	l.opts.cpu = l.cpu
	return l
}

// Dir returns where layer diffID is (or would be) extracted.
func (l *Layers) Dir(diffID v1.Hash) string {
	return filepath.Join(l.dir, diffID.Hex)
}

// Ensure extracts the uncompressed layer tar that open returns into
// dir/<diffID hex> unless it is there already, and returns that directory.
// Concurrent callers in one process share one extraction; across processes
// the first rename wins and the others discard their copy. The stream's
// sha256 must equal diffID.
func (l *Layers) Ensure(ctx context.Context, diffID v1.Hash, open func() (io.ReadCloser, error)) (string, error) {
	if diffID.Algorithm != "sha256" || len(diffID.Hex) != 64 {
		return "", fmt.Errorf("ensure layer: unsupported diffID %q", diffID)
	}
	if _, err := hex.DecodeString(diffID.Hex); err != nil {
		return "", fmt.Errorf("ensure layer: invalid diffID %q", diffID)
	}
	l.clean.Do(func() {
		// Best effort: a leftover only costs disk space, and Prune of the
		// layers directory would not know these names either.
		_ = cleanTmp(l.dir)
	})
	target := l.Dir(diffID)
	if fi, err := os.Lstat(target); err == nil && fi.IsDir() {
		return target, nil
	}
	ch := l.group.DoChan(diffID.Hex, func() (any, error) {
		// The first caller's ctx bounds the extraction: if it is cancelled,
		// callers sharing it get the error and may retry.
		return target, l.extract(ctx, diffID, target, open)
	})
	select {
	case <-ctx.Done():
		return "", ctx.Err()
	case res := <-ch:
		if res.Err != nil {
			return "", res.Err
		}
		return target, nil
	}
}

// Adopt moves dir (an extracted layer with diffID, such as a RUN's upper
// directory after its diff) into place as that layer's directory, unless
// the layer is there already. It reports whether dir was moved; a dir on
// another file system is left where it is (the layer is extracted from
// its tar when needed).
func (l *Layers) Adopt(diffID v1.Hash, dir string) (bool, error) {
	if diffID.Algorithm != "sha256" || len(diffID.Hex) != 64 {
		return false, fmt.Errorf("adopt layer: unsupported diffID %q", diffID)
	}
	if _, err := hex.DecodeString(diffID.Hex); err != nil {
		return false, fmt.Errorf("adopt layer: invalid diffID %q", diffID)
	}
	target := l.Dir(diffID)
	if fi, err := os.Lstat(target); err == nil && fi.IsDir() {
		return false, nil
	}
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		return false, fmt.Errorf("create layers dir: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return false, fmt.Errorf("adopt layer %s: %w", diffID, err)
	}
	// Extraction and adoption of one diffID share the singleflight key,
	// so that neither sees the other's half-done work in this process;
	// across processes the rename is atomic and the first wins.
	v, err, _ := l.group.Do(diffID.Hex, func() (any, error) {
		if fi, err := os.Lstat(target); err == nil && fi.IsDir() {
			return false, nil
		}
		if err := os.Rename(dir, target); err != nil {
			if fi, serr := os.Lstat(target); serr == nil && fi.IsDir() {
				return false, nil
			}
			if errors.Is(err, unix.EXDEV) {
				return false, nil
			}
			return false, fmt.Errorf("adopt layer %s: %w", diffID, err)
		}
		return true, nil
	})
	if err != nil {
		return false, err
	}
	moved, _ := v.(bool) // an extraction in flight shares the key: not moved
	return moved, nil
}

func (l *Layers) extract(ctx context.Context, diffID v1.Hash, target string, open func() (io.ReadCloser, error)) (err error) {
	if fi, err := os.Lstat(target); err == nil && fi.IsDir() {
		return nil
	}
	if err := os.MkdirAll(l.dir, 0o700); err != nil {
		return fmt.Errorf("create layers dir: %w", err)
	}
	tmp, err := os.MkdirTemp(l.dir, tmpPrefix+procowner.Tag()+diffID.Hex[:12]+"-")
	if err != nil {
		return fmt.Errorf("create extraction dir: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("chmod extraction dir: %w", err)
	}
	release, err := l.cpu.Acquire(ctx, 1)
	if err != nil {
		return fmt.Errorf("extract layer %s: %w", diffID, err)
	}
	defer release()
	rc, err := open()
	if err != nil {
		return fmt.Errorf("open layer %s: %w", diffID, err)
	}
	defer rc.Close()
	h := sha256.New()
	r := io.TeeReader(rc, h)
	if err := extract(ctx, tmp, r, whiteoutsAsOverlay, l.opts); err != nil {
		return fmt.Errorf("extract layer %s: %w", diffID, err)
	}
	if _, err := io.Copy(io.Discard, r); err != nil { // tar padding after the end marker
		return fmt.Errorf("read layer %s: %w", diffID, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != diffID.Hex {
		return fmt.Errorf("extract layer %s: content has diffID sha256:%s", diffID, got)
	}
	if err := os.Rename(tmp, target); err != nil {
		if fi, serr := os.Lstat(target); serr == nil && fi.IsDir() {
			os.RemoveAll(tmp) // another process won the race
			return nil
		}
		return fmt.Errorf("rename layer into place: %w", err)
	}
	return nil
}
