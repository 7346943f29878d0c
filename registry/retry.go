package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// DefaultTries is how often a registry request is tried by default
// (--registry-retries), with waits of 1s, 2s, 4s and 8s in between.
const DefaultTries = 5

// DefaultRetryWait is the wait after the first failed try; it doubles
// after each further one.
const DefaultRetryWait = time.Second

// MaxRetryTime bounds the time spent on one request, its retries and the
// waits in between (Retry-After included): a request that would need more
// fails.
const MaxRetryTime = 2 * time.Minute

// ErrDigestMismatch: a blob read from a registry does not have the digest
// it was asked for. Such a blob is never used; the fetch is retried.
var ErrDigestMismatch = errors.New("blob digest mismatch")

// retryPolicy is how often and how long requests are retried.
type retryPolicy struct {
	tries      int           // at least 1
	first      time.Duration // wait after the first failure, doubled each time
	maxElapsed time.Duration // per request, waits included
}

// wait returns the backoff after failed try n (1-based), with 10% jitter.
func (p retryPolicy) wait(n int) time.Duration {
	d := p.first
	for i := 1; i < n && d < p.maxElapsed; i++ {
		d *= 2
	}
	if d <= 0 {
		return 0
	}
	return d + time.Duration(rand.Int64N(int64(d)/10+1))
}

// RetryError is a request given up on: the last failure, how often it was
// tried and for how long.
type RetryError struct {
	Request string // "GET https://host/v2/..." (no query)
	Tries   int
	Elapsed time.Duration
	// RetryAfter is what the registry last asked to wait, when that did
	// not fit in the time left.
	RetryAfter time.Duration
	Err        error // the last failure (a *transport.Error for a status)
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("%v (%s)", e.Err, e.Summary())
}

// Summary says how often and how long the request was tried, for messages.
func (e *RetryError) Summary() string {
	s := fmt.Sprintf("gave up after %d tries in %s", e.Tries, e.Elapsed.Round(10*time.Millisecond))
	if e.RetryAfter > 0 {
		s += fmt.Sprintf("; the registry asked to wait %s, more than the time left", e.RetryAfter)
	}
	return s
}

func (e *RetryError) Unwrap() error { return e.Err }

// DigestError is a blob whose bytes do not hash to the digest asked for.
type DigestError struct {
	URL       string
	Want, Got string
	tries     int // how often the caller may fetch the blob (the client's tries)
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("%s: blob %s read from %s has digest %s", ErrDigestMismatch, e.Want, e.URL, e.Got)
}

func (e *DigestError) Unwrap() error { return ErrDigestMismatch }

// RetryFetch runs fetch, which reads blobs from a registry, again while it
// fails with ErrDigestMismatch, as often as the client that read the blob
// tries requests. Other failures are returned at once: the transport has
// already retried them.
func RetryFetch(ctx context.Context, fetch func() error) error {
	for n := 1; ; n++ {
		err := fetch()
		var de *DigestError
		if err == nil || !errors.As(err, &de) || n >= de.tries || ctx.Err() != nil {
			if err != nil && de != nil && n > 1 {
				return fmt.Errorf("%w (fetched %d times)", err, n)
			}
			return err
		}
	}
}

// retryTransport retries registry requests on connection resets, refused
// connections, timeouts, 408, 429 and 5xx, with exponential backoff and
// jitter, honouring Retry-After, within the policy's tries and time. A
// request whose body cannot be sent again (a blob upload's PATCH) is not
// retried here: its failure goes up to go-containerregistry, which starts
// the upload over. GET responses are resumed when their body is cut, and
// blob bodies are checked against their digest.
type retryTransport struct {
	inner http.RoundTripper
	p     retryPolicy
}

var _ http.RoundTripper = (*retryTransport)(nil)

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.roundTrip(req, t.p.maxElapsed)
	if err != nil || req.Method != http.MethodGet || resp.StatusCode != http.StatusOK ||
		resp.Uncompressed || req.Header.Get("Range") != "" {
		return resp, err
	}
	resp.Body = newResumingBody(t, req, resp)
	return resp, nil
}

// roundTrip sends req until it succeeds, fails for good, or the tries or
// budget are spent.
func (t *retryTransport) roundTrip(req *http.Request, budget time.Duration) (*http.Response, error) {
	ctx := req.Context()
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	start := time.Now()
	for n := 1; ; n++ {
		r := req
		if n > 1 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, fmt.Errorf("retry %s: %w", req.Method, err)
			}
			r = req.Clone(ctx)
			r.Body = body
		}
		resp, err := t.inner.RoundTrip(r)
		if ctx.Err() != nil {
			return resp, err
		}
		retry, after := retryable(resp, err)
		if !retry {
			return resp, err
		}
		wait := max(t.p.wait(n), after)
		elapsed := time.Since(start)
		if !replayable {
			// The caller starts over (go-containerregistry restarts
			// uploads); let it wait as long as the registry asked.
			if after > 0 && elapsed+after < budget {
				if err := sleep(ctx, after); err != nil {
					return resp, err
				}
			}
			return resp, err
		}
		if n >= t.p.tries || elapsed+wait > budget {
			ge := giveUp(req, n, elapsed, resp, err)
			if n < t.p.tries && after > 0 {
				ge.RetryAfter = after
			}
			return nil, ge
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		if err := sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// giveUp makes the RetryError for the last failure (a status is turned
// into go-containerregistry's *transport.Error, with the request).
func giveUp(req *http.Request, n int, elapsed time.Duration, resp *http.Response, err error) *RetryError {
	if resp != nil {
		err = transport.CheckError(resp, resp.StatusCode+1) // never "expected": always an error
		resp.Body.Close()
	}
	return &RetryError{Request: req.Method + " " + req.URL.Redacted(), Tries: n, Elapsed: elapsed, Err: err}
}

// retryable tells whether a response or error is worth another try, and
// how long the registry asked to wait (Retry-After), if it did.
func retryable(resp *http.Response, err error) (bool, time.Duration) {
	if err != nil {
		return retryableErr(err), 0
	}
	switch resp.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusInternalServerError,
		http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true, retryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return false, 0
}

// retryableErr: connection resets and refusals, broken pipes, cut
// connections and timeouts (not a cancelled or expired context).
func retryableErr(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	}
	return false
}

// retryAfter parses a Retry-After value (seconds or an HTTP date); 0 if
// absent or invalid.
func retryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// shouldRestart is go-containerregistry's retry predicate: it restarts
// blob uploads and manifest puts that failed with something retryable,
// but not a request this transport already gave up on.
func shouldRestart(err error) bool {
	if err == nil {
		return false
	}
	var re *RetryError
	if errors.As(err, &re) {
		return false
	}
	var te *transport.Error
	if errors.As(err, &te) {
		r, _ := retryable(&http.Response{StatusCode: te.StatusCode, Header: http.Header{}}, nil)
		return r
	}
	return retryableErr(err)
}
