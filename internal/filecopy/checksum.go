package filecopy

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/internal/cpulimit"
	"github.com/builderdev/builder/internal/ctxio"
)

// checksumRecord is one line of the canonical encoding Checksum hashes.
type checksumRecord struct {
	Path   string `json:"path"`
	Type   string `json:"type"`
	Mode   int64  `json:"mode"`
	UID    int    `json:"uid"`
	GID    int    `json:"gid"`
	Link   string `json:"link,omitempty"`
	Major  int64  `json:"major,omitempty"`
	Minor  int64  `json:"minor,omitempty"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
}

// Checksum returns the digest the cache key of this COPY/ADD uses: one JSON
// line per entry of the layer Copy would write (destination path, type,
// mode after --chmod, uid/gid after --chown, link target, sha256 of the
// bytes), never mtimes. Only the selected files are read, and with
// req.StatCache a file whose stat is unchanged is not read at all. ADD URLs
// are downloaded (and verified) to be hashed.
func Checksum(ctx context.Context, req Request) (v1.Hash, error) {
	return checksumOf(ctx, req, nil)
}

// ChecksumFiles is Checksum that also returns, for each entry, a short
// digest of its line of the encoding (keyed by destination path), so that
// a caller can tell which file changed between two checksums.
func ChecksumFiles(ctx context.Context, req Request) (v1.Hash, map[string]string, error) {
	files := map[string]string{}
	sum, err := checksumOf(ctx, req, files)
	return sum, files, err
}

func checksumOf(ctx context.Context, req Request, files map[string]string) (v1.Hash, error) {
	pl, err := NewPlan(ctx, req)
	if err != nil {
		return v1.Hash{}, err
	}
	defer pl.Close()
	return pl.checksum(ctx, files)
}

// Checksum is the package's Checksum of the plan's layer.
func (pl *Plan) Checksum(ctx context.Context) (v1.Hash, error) {
	return pl.checksum(ctx, nil)
}

// ChecksumFiles is the package's ChecksumFiles of the plan's layer.
func (pl *Plan) ChecksumFiles(ctx context.Context) (v1.Hash, map[string]string, error) {
	files := map[string]string{}
	sum, err := pl.checksum(ctx, files)
	return sum, files, err
}

func (pl *Plan) checksum(ctx context.Context, files map[string]string) (v1.Hash, error) {
	h := sha256.New()
	var buf []byte
	for _, e := range pl.entries {
		if err := ctx.Err(); err != nil {
			return v1.Hash{}, err
		}
		rec := checksumRecord{
			Path: e.tarName(), Type: string(rune(e.hdr.Typeflag)), Mode: e.hdr.Mode,
			UID: e.hdr.Uid, GID: e.hdr.Gid, Link: e.hdr.Linkname,
			Major: e.hdr.Devmajor, Minor: e.hdr.Devminor, Size: e.hdr.Size,
		}
		switch {
		case e.hardTo != "":
			rec.Type, rec.Link, rec.Size = string(rune(tar.TypeLink)), e.hardTo, 0
		case e.hdr.Typeflag == tar.TypeReg:
			sum, err := pl.p.fileSum(ctx, e)
			if err != nil {
				return v1.Hash{}, err
			}
			rec.SHA256 = sum
			e.sum = sum
		}
		// What a json.Encoder writes: the Marshal output and a newline,
		// encoded once for both uses.
		line, err := rec.appendJSON(buf[:0])
		if err != nil {
			return v1.Hash{}, fmt.Errorf("encode checksum record: %w", err)
		}
		buf = line
		h.Write(line)
		h.Write(newline)
		if files != nil {
			sum := sha256.Sum256(line)
			files[rec.Path] = hex.EncodeToString(sum[:8])
		}
	}
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}, nil
}

var newline = []byte{'\n'}

// appendJSON appends what json.Marshal makes of r (the same bytes: the
// cache keys depend on them) without reflection: one record per file of
// every COPY is encoded for its key.
func (r *checksumRecord) appendJSON(b []byte) ([]byte, error) {
	var err error
	str := func(key, v string, omitEmpty bool) {
		if err != nil || omitEmpty && v == "" {
			return
		}
		b = append(b, key...)
		b, err = appendJSONString(b, v)
	}
	num := func(key string, v int64, omitEmpty bool) {
		if omitEmpty && v == 0 {
			return
		}
		b = append(b, key...)
		b = strconv.AppendInt(b, v, 10)
	}
	str(`{"path":`, r.Path, false)
	str(`,"type":`, r.Type, false)
	num(`,"mode":`, r.Mode, false)
	num(`,"uid":`, int64(r.UID), false)
	num(`,"gid":`, int64(r.GID), false)
	str(`,"link":`, r.Link, true)
	num(`,"major":`, r.Major, true)
	num(`,"minor":`, r.Minor, true)
	num(`,"size":`, r.Size, false)
	str(`,"sha256":`, r.SHA256, true)
	return append(b, '}'), err
}

// appendJSONString appends s as json.Marshal quotes it: printable ASCII
// other than the characters it escapes is copied, anything else goes
// through json.Marshal.
func appendJSONString(b []byte, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, err := json.Marshal(s)
			return append(b, q...), err
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"'), nil
}

// fileSum returns the hex sha256 of a regular entry's bytes.
func (p *plan) fileSum(ctx context.Context, e *entry) (string, error) {
	if p.req.StatCache != nil && e.fsys != nil {
		return p.req.StatCache.Sum(ctx, p.req.CPU, e.fsys, e.srcName, e.fi)
	}
	return hashOpen(ctx, p.req.CPU, e.open, e.name)
}

// hashOpen hashes what open returns, holding a slot of cpu meanwhile.
func hashOpen(ctx context.Context, cpu *cpulimit.Limiter, open func() (io.ReadCloser, error), name string) (string, error) {
	release, err := cpu.Acquire(ctx, 1)
	if err != nil {
		return "", fmt.Errorf("hash %s: %w", name, err)
	}
	defer release()
	rc, err := open()
	if err != nil {
		return "", fmt.Errorf("open %s: %w", name, err)
	}
	defer rc.Close()
	h := sha256.New()
	if _, err := ctxio.Copy(ctx, h, rc); err != nil {
		return "", fmt.Errorf("hash %s: %w", name, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
