package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// resumingBody is the body of a GET whose connection may be cut: on a
// reset or an early end it asks again for the rest (Range: bytes=N-, or
// the whole body again, skipping what was read), up to the transport's
// tries and time. For a blob (/v2/.../blobs/sha256:HEX) it hashes what it
// delivers and fails with a *DigestError at the end if the digest is not
// the one asked for.
type resumingBody struct {
	t     *retryTransport
	req   *http.Request
	body  io.ReadCloser
	n     int64 // bytes delivered
	size  int64 // Content-Length, -1 if unknown
	h     hash.Hash
	want  string // "sha256:HEX" for a blob
	start time.Time
	tries int   // requests made for this body
	cut   error // the read error to resume from before the next read
	err   error // sticky final error
}

func newResumingBody(t *retryTransport, req *http.Request, resp *http.Response) *resumingBody {
	b := &resumingBody{t: t, req: req, body: resp.Body, size: resp.ContentLength, start: time.Now(), tries: 1}
	if d := blobDigest(req.URL.Path); d != "" {
		b.want, b.h = d, sha256.New()
	}
	return b
}

// blobDigest returns "sha256:HEX" for a blob URL path, "" otherwise.
func blobDigest(p string) string {
	i := strings.LastIndex(p, "/blobs/sha256:")
	if i < 0 || strings.Contains(p[:i+1], "/blobs/uploads") {
		return ""
	}
	d := p[i+len("/blobs/"):]
	if len(d) != len("sha256:")+64 {
		return ""
	}
	if _, err := hex.DecodeString(d[len("sha256:"):]); err != nil {
		return ""
	}
	return d
}

func (b *resumingBody) Read(p []byte) (int, error) {
	for {
		if b.err != nil {
			return 0, b.err
		}
		if b.cut != nil {
			if err := b.resume(); err != nil {
				b.err = err
				return 0, err
			}
		}
		n, err := b.body.Read(p)
		if n > 0 {
			b.n += int64(n)
			if b.h != nil {
				b.h.Write(p[:n])
			}
		}
		switch {
		case err == nil:
			return n, nil
		case err == io.EOF && (b.size < 0 || b.n >= b.size):
			if b.h != nil {
				if got := "sha256:" + hex.EncodeToString(b.h.Sum(nil)); got != b.want {
					b.err = &DigestError{URL: b.req.URL.Redacted(), Want: b.want, Got: got, tries: b.t.p.tries}
					return n, b.err
				}
			}
			b.err = io.EOF
			return n, io.EOF
		case err == io.EOF:
			err = io.ErrUnexpectedEOF
		}
		if !retryableErr(err) || b.req.Context().Err() != nil {
			b.err = err
			return n, err
		}
		b.cut = err
		if n > 0 {
			return n, nil
		}
	}
}

// resume asks for the rest of the body after a cut.
func (b *resumingBody) resume() error {
	cut := b.cut
	b.body.Close()
	for {
		elapsed := time.Since(b.start)
		wait := b.t.p.wait(b.tries)
		if b.tries >= b.t.p.tries || elapsed+wait > b.t.p.maxElapsed {
			return &RetryError{Request: b.req.Method + " " + b.req.URL.Redacted(), Tries: b.tries, Elapsed: elapsed,
				Err: fmt.Errorf("read body after %d bytes: %w", b.n, cut)}
		}
		if err := sleep(b.req.Context(), wait); err != nil {
			return err
		}
		b.tries++
		r := b.req.Clone(b.req.Context())
		if b.n > 0 {
			r.Header.Set("Range", fmt.Sprintf("bytes=%d-", b.n))
		}
		resp, err := b.t.roundTrip(r, b.t.p.maxElapsed-time.Since(b.start))
		if err != nil {
			return err
		}
		switch {
		case resp.StatusCode == http.StatusPartialContent &&
			strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", b.n)):
			b.body, b.cut = resp.Body, nil
			return nil
		case resp.StatusCode == http.StatusOK:
			// No ranges: read the body again up to where it was cut.
			if _, err := io.CopyN(io.Discard, resp.Body, b.n); err != nil {
				resp.Body.Close()
				if !retryableErr(err) {
					return fmt.Errorf("read body again: %w", err)
				}
				cut = err
				continue
			}
			b.body, b.cut = resp.Body, nil
			return nil
		default:
			err := transport.CheckError(resp, http.StatusOK, http.StatusPartialContent)
			resp.Body.Close()
			if err == nil {
				err = fmt.Errorf("resume body: unexpected status %d", resp.StatusCode)
			}
			return err
		}
	}
}

func (b *resumingBody) Close() error { return b.body.Close() }
