package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// retryClient is an http.Client over the registry transport with retries.
func retryClient(opts ...Option) *http.Client {
	return &http.Client{Transport: New(append([]Option{WithKeychain(anonymous), WithCertsDir("")}, opts...)...).c.transport}
}

func TestRetryStatusesAndResets(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) {
		case 1:
			http.Error(w, "no", http.StatusServiceUnavailable)
		case 2:
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.(*net.TCPConn).SetLinger(0)
			conn.Close()
		case 3:
			http.Error(w, "no", http.StatusInternalServerError)
		default:
			body, _ := io.ReadAll(r.Body)
			w.Write(append([]byte("ok "), body...))
		}
	}))
	defer srv.Close()
	// A PUT with a body that can be sent again (a manifest put) is retried
	// with its body.
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/v2/r/manifests/1", bytes.NewBufferString("manifest"))
	resp, err := retryClient(WithRetry(5, time.Millisecond)).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok manifest" || n.Load() != 4 {
		t.Errorf("got %q after %d requests, want \"ok manifest\" after 4", body, n.Load())
	}
}

func TestRetryAfterIsHonoured(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "slow down", http.StatusTooManyRequests)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	start := time.Now()
	resp, err := retryClient(WithRetry(3, time.Millisecond)).Get(srv.URL + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if d := time.Since(start); d < time.Second || n.Load() != 2 {
		t.Errorf("second try after %s (%d requests), want after Retry-After: 1s", d, n.Load())
	}
	if got := retryAfter(time.Now().Add(3*time.Second).UTC().Format(http.TimeFormat), time.Now()); got < time.Second || got > 3*time.Second {
		t.Errorf("Retry-After as a date: %s", got)
	}
	for _, v := range []string{"", "-1", "soon"} {
		if got := retryAfter(v, time.Now()); got != 0 {
			t.Errorf("retryAfter(%q) = %s, want 0", v, got)
		}
	}
}

func TestRetryGivesUpWithinBounds(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/team/app:1"
	start := time.Now()
	err := pull(testCtx(t), ref, WithKeychain(anonymous), WithCertsDir(""), WithRetry(3, 10*time.Millisecond))
	var re *RetryError
	if !errors.As(err, &re) || re.Tries != 3 || n.Load() != 3 {
		t.Fatalf("error %v after %d requests, want a RetryError after 3", err, n.Load())
	}
	if !strings.Contains(err.Error(), "answered 503") || !strings.Contains(err.Error(), "gave up after 3 tries in") {
		t.Errorf("error does not say what failed and how often: %q", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %s", d)
	}

	// A Retry-After beyond the time bound is not waited for.
	srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "30")
		http.Error(w, "later", http.StatusTooManyRequests)
	}))
	defer srv2.Close()
	start = time.Now()
	_, err = retryClient(WithRetry(5, time.Millisecond), withRetryTime(2*time.Second)).Get(srv2.URL + "/v2/")
	if !errors.As(err, &re) || re.Tries != 1 || time.Since(start) > time.Second ||
		!strings.Contains(err.Error(), "the registry asked to wait 30s") {
		t.Errorf("Retry-After 30s with a 2s bound: %v after %s", err, time.Since(start))
	}

	// A registry that is down (nothing listens) fails within the bound.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := l.Addr().String()
	l.Close()
	start = time.Now()
	err = pull(testCtx(t), down+"/team/app:1", WithKeychain(anonymous), WithCertsDir(""), WithRetry(3, 10*time.Millisecond))
	if !errors.As(err, &re) || re.Tries != 3 || !strings.Contains(err.Error(), "connection refused") ||
		!strings.Contains(err.Error(), "gave up after 3 tries") || time.Since(start) > 5*time.Second {
		t.Errorf("registry down: %v after %s", err, time.Since(start))
	}
}

// blobServer serves one blob, cutting its first cuts responses halfway,
// and records the Range headers it gets.
type blobServer struct {
	data   []byte
	cuts   int32
	n      atomic.Int32
	mu     sync.Mutex
	ranges []string
}

func (b *blobServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b.mu.Lock()
	b.ranges = append(b.ranges, r.Header.Get("Range"))
	b.mu.Unlock()
	if b.n.Add(1) <= b.cuts {
		w.Header().Set("Content-Length", "1000000")
		w.WriteHeader(http.StatusOK)
		w.Write(b.data[:len(b.data)/2])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	http.ServeContent(w, r, "blob", time.Time{}, bytes.NewReader(b.data))
}

func TestCutBlobBodyIsResumed(t *testing.T) {
	data := bytes.Repeat([]byte("layer bytes "), 1000000/12+1)[:1000000]
	sum := sha256.Sum256(data)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	bs := &blobServer{data: data, cuts: 2}
	srv := httptest.NewServer(bs)
	defer srv.Close()
	resp, err := retryClient(WithRetry(5, time.Millisecond)).Get(srv.URL + "/v2/r/blobs/" + digest)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d bytes, err %v; want the whole blob", len(got), err)
	}
	if len(bs.ranges) != 3 || bs.ranges[0] != "" || bs.ranges[1] != "bytes=500000-" {
		t.Errorf("range headers %q, want none and then bytes=500000-", bs.ranges)
	}

	// Cut more often than the tries: a RetryError that says so.
	bs = &blobServer{data: data, cuts: 10}
	srv2 := httptest.NewServer(bs)
	defer srv2.Close()
	resp, err = retryClient(WithRetry(3, time.Millisecond)).Get(srv2.URL + "/v2/r/blobs/" + digest)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	var re *RetryError
	if !errors.As(err, &re) || re.Tries != 3 || bs.n.Load() != 3 {
		t.Errorf("always cut: %v after %d requests, want a RetryError after 3", err, bs.n.Load())
	}
}

func TestBlobDigestMismatchIsRefetched(t *testing.T) {
	data := []byte("the real layer")
	sum := sha256.Sum256(data)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			w.Write([]byte("a corrupt layer"))
			return
		}
		w.Write(data)
	}))
	defer srv.Close()
	cl := retryClient(WithRetry(4, time.Millisecond))
	var got []byte
	fetches := 0
	err := RetryFetch(testCtx(t), func() error {
		fetches++
		resp, err := cl.Get(srv.URL + "/v2/r/blobs/" + digest)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		got, err = io.ReadAll(resp.Body)
		return err
	})
	if err != nil || string(got) != string(data) || fetches != 3 {
		t.Fatalf("got %q, %v after %d fetches; want the real layer after 3", got, err, fetches)
	}

	// Always corrupt: given up after the client's tries, saying so.
	n.Store(-100)
	fetches = 0
	err = RetryFetch(testCtx(t), func() error {
		fetches++
		resp, err := cl.Get(srv.URL + "/v2/r/blobs/" + digest)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, err = io.ReadAll(resp.Body)
		return err
	})
	if !errors.Is(err, ErrDigestMismatch) || fetches != 4 || !strings.Contains(err.Error(), "fetched 4 times") {
		t.Errorf("always corrupt: %v after %d fetches", err, fetches)
	}
}

func TestRetryableClassification(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{io.ErrUnexpectedEOF, true},
		{&net.OpError{Op: "read", Err: errors.New("x")}, false},
		{fmt.Errorf("get: %w", context.Canceled), false},
		{errors.New("x509: certificate signed by unknown authority"), false},
	} {
		if got := retryableErr(tc.err); got != tc.want {
			t.Errorf("retryableErr(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if shouldRestart(&RetryError{Err: io.ErrUnexpectedEOF}) {
		t.Error("a request the transport gave up on is started over")
	}
	if !shouldRestart(io.ErrUnexpectedEOF) {
		t.Error("a cut upload is not started over")
	}
}

// The token service's transient failures are retried like the registry's.
func TestTokenFetchIsRetried(t *testing.T) {
	var tokens atomic.Int32
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/token":
			if tokens.Add(1) <= 2 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"token":"t0k"}`))
		case r.Header.Get("Authorization") != "Bearer t0k":
			w.Header().Set("WWW-Authenticate", `Bearer realm="`+srv.URL+`/token",service="test"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
		case r.URL.Path == "/v2/":
			w.Write([]byte("{}"))
		default:
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.Header().Set("Docker-Content-Digest", "sha256:"+strings.Repeat("a", 64))
			w.Header().Set("Content-Length", "10")
		}
	}))
	defer srv.Close()
	ref := strings.TrimPrefix(srv.URL, "http://") + "/team/app:1"
	r, err := ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	opts := []Option{WithKeychain(anonymous), WithCertsDir(""), WithRetry(4, time.Millisecond)}
	desc, err := remote.Head(r, RemoteOptions(testCtx(t), opts...)...)
	if err != nil || desc.Digest.Hex != strings.Repeat("a", 64) {
		t.Fatalf("head through a flaky token service: %v, %v", desc, err)
	}
	if tokens.Load() != 3 {
		t.Errorf("%d token requests, want 3 (two 503s, then the token)", tokens.Load())
	}
}
