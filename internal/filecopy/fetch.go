package filecopy

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/builderdev/builder/internal/ctxio"
)

func isURL(src string) bool {
	return (strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://")) && !isGit(src)
}

// isGit reports sources BuildKit treats as git repositories.
func isGit(src string) bool {
	if strings.HasPrefix(src, "git://") || strings.HasPrefix(src, "git@") || strings.HasPrefix(src, "ssh://") {
		return true
	}
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		u, err := url.Parse(src)
		return err == nil && strings.HasSuffix(u.Path, ".git")
	}
	return false
}

// download fetches u into a temp file and returns its path, size and mtime
// (Last-Modified, else zero), verifying req.Checksum.
func (p *plan) download(ctx context.Context, u string) (string, int64, time.Time, error) {
	client := p.req.Client
	if client == nil {
		client = &http.Client{}
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", 0, time.Time{}, fmt.Errorf("fetch %s: %w", u, err)
	}
	resp, err := client.Do(hreq)
	if err != nil {
		return "", 0, time.Time{}, fmt.Errorf("fetch %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return "", 0, time.Time{}, fmt.Errorf("fetch %s: invalid response status %d", u, resp.StatusCode)
	}
	f, err := os.CreateTemp(p.req.TmpDir, "add-url-*")
	if err != nil {
		return "", 0, time.Time{}, fmt.Errorf("create download file: %w", err)
	}
	p.cleanup = append(p.cleanup, f.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), ctxio.Reader(ctx, resp.Body))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", 0, time.Time{}, fmt.Errorf("fetch %s: %w", u, err)
	}
	if want := p.req.Checksum; want != "" {
		algo, hexsum, ok := strings.Cut(want, ":")
		if !ok || algo != "sha256" {
			return "", 0, time.Time{}, fmt.Errorf("unsupported checksum %q: only sha256:<hex> is supported", want)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != strings.ToLower(hexsum) {
			return "", 0, time.Time{}, fmt.Errorf("digest mismatch for %s: expected %s, got sha256:%s", u, want, got)
		}
	}
	var mt time.Time
	if lm := resp.Header.Get("Last-Modified"); lm != "" {
		if t, err := http.ParseTime(lm); err == nil {
			mt = t
		}
	}
	return f.Name(), n, mt, nil
}

// addURL downloads u and adds it as a file (mode 0600) named after the URL
// path, or extracts it when --unpack=true and it is an archive.
func (p *plan) addURL(ctx context.Context, u, dest string) error {
	file, size, mt, err := p.download(ctx, u)
	if err != nil {
		return err
	}
	open := func() (io.ReadCloser, error) { return os.Open(file) }
	if p.req.Unpack != nil && *p.req.Unpack {
		ok, err := p.maybeExtract(ctx, open, dest)
		if err != nil || ok {
			return err
		}
	}
	name := "__unnamed__"
	if pu, err := url.Parse(u); err == nil {
		if b := path.Base(pu.Path); b != "." && b != "/" {
			name = b
		}
	}
	target := dest
	if p.isDir(dest) {
		target = path.Join(dest, name)
	}
	if mt.IsZero() {
		mt = p.mtime
	}
	hdr := tar.Header{Typeflag: tar.TypeReg, Mode: 0o600, Size: size, ModTime: mt.Truncate(time.Second), Format: tar.FormatPAX}
	p.setOwner(&hdr)
	p.applyChmod(&hdr)
	p.put(&entry{name: target, hdr: hdr, open: open})
	return nil
}
