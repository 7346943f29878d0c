package testenv

import (
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Fault is one way FaultProxy breaks a request.
type Fault string

// The faults FaultProxy injects.
const (
	// FaultReset closes the connection with a TCP reset, without an answer.
	FaultReset Fault = "reset"
	// Fault500 and Fault503 answer with that status and a registry error.
	Fault500 Fault = "500"
	Fault503 Fault = "503"
	// Fault429 answers 429 Too Many Requests with a Retry-After header.
	Fault429 Fault = "429"
	// FaultCutBody forwards the request but cuts the connection halfway
	// through the response body (GET requests with a body only).
	FaultCutBody Fault = "cut-body"
)

// FaultProxy is a plain-http reverse proxy on 127.0.0.1 in front of a
// registry that breaks a seeded random share of requests: connection
// resets, 500 and 503, 429 with Retry-After, and bodies cut mid-stream.
// The seed is logged; BUILDER_FAULT_SEED=N repeats a run.
type FaultProxy struct {
	// Seed is the seed of the fault sequence.
	Seed uint64

	srv        *httptest.Server
	rp         *httputil.ReverseProxy
	retryAfter int

	mu       sync.Mutex
	rng      *rand.Rand
	rate     float64
	requests int
	faults   map[Fault]int
	log      []string
}

// FaultOption configures StartFaultProxy.
type FaultOption func(*FaultProxy)

// WithFaultSeed fixes the seed (default: BUILDER_FAULT_SEED, else the
// clock).
func WithFaultSeed(seed uint64) FaultOption { return func(p *FaultProxy) { p.Seed = seed } }

// WithRetryAfter sets the Retry-After seconds of a 429 (default 1).
func WithRetryAfter(seconds int) FaultOption {
	return func(p *FaultProxy) { p.retryAfter = seconds }
}

// StartFaultProxy starts a proxy to reg that breaks the share rate (0..1)
// of requests; it is closed when the test ends.
func StartFaultProxy(t testing.TB, reg *Registry, rate float64, opts ...FaultOption) *FaultProxy {
	t.Helper()
	if reg.TLS() {
		t.Fatal("fault proxy: only plain-http registries are supported")
	}
	target, err := url.Parse(reg.URL())
	if err != nil {
		t.Fatal(err)
	}
	p := &FaultProxy{rate: rate, retryAfter: 1, faults: map[Fault]int{}}
	if s, err := strconv.ParseUint(os.Getenv("BUILDER_FAULT_SEED"), 10, 64); err == nil {
		p.Seed = s
	} else {
		p.Seed = uint64(time.Now().UnixNano())
	}
	for _, o := range opts {
		o(p)
	}
	p.rng = rand.New(rand.NewPCG(p.Seed, p.Seed^0x9e3779b97f4a7c15))
	p.rp = httputil.NewSingleHostReverseProxy(target)
	p.rp.ErrorLog = log.New(io.Discard, "", 0)
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	p.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	p.srv.Start()
	t.Logf("fault proxy %s -> %s: %.0f%% faults, seed %d (BUILDER_FAULT_SEED=%d repeats it)",
		p.Host(), reg.Host(), rate*100, p.Seed, p.Seed)
	t.Cleanup(func() {
		p.srv.Close()
		t.Logf("fault proxy seed %d: %d requests, faults %v", p.Seed, p.Requests(), p.Faults())
	})
	return p
}

// Host is the proxy's HOST:PORT.
func (p *FaultProxy) Host() string { return strings.TrimPrefix(p.srv.URL, "http://") }

// Ref returns HOST:PORT/repo for the proxy.
func (p *FaultProxy) Ref(repo string) string { return p.Host() + "/" + repo }

// SetRate changes the share of requests broken from now on.
func (p *FaultProxy) SetRate(rate float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rate = rate
}

// Requests is how many requests the proxy has seen.
func (p *FaultProxy) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// Faults counts the faults injected so far, by kind.
func (p *FaultProxy) Faults() map[Fault]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[Fault]int, len(p.faults))
	for k, v := range p.faults {
		out[k] = v
	}
	return out
}

// Log lists the requests seen, as "METHOD PATH -> FAULT" ("ok" if none).
func (p *FaultProxy) Log() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.log...)
}

// pick decides the fault for r ("" for none).
func (p *FaultProxy) pick(r *http.Request) Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	var f Fault
	if p.rng.Float64() < p.rate {
		kinds := []Fault{FaultReset, Fault500, Fault503, Fault429}
		if r.Method == http.MethodGet {
			kinds = append(kinds, FaultCutBody)
		}
		f = kinds[p.rng.IntN(len(kinds))]
		p.faults[f]++
	}
	what := "ok"
	if f != "" {
		what = string(f)
	}
	p.log = append(p.log, r.Method+" "+r.URL.Path+" -> "+what)
	return f
}

func (p *FaultProxy) serve(w http.ResponseWriter, r *http.Request) {
	switch p.pick(r) {
	case FaultReset:
		reset(w)
	case Fault500:
		registryError(w, http.StatusInternalServerError, "UNKNOWN", "injected fault")
	case Fault503:
		registryError(w, http.StatusServiceUnavailable, "UNAVAILABLE", "injected fault")
	case Fault429:
		w.Header().Set("Retry-After", strconv.Itoa(p.retryAfter))
		registryError(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", "injected fault")
	case FaultCutBody:
		p.rp.ServeHTTP(&cutWriter{ResponseWriter: w}, r)
		// A body too short to cut in half was cut at its start.
	default:
		p.rp.ServeHTTP(w, r)
	}
}

// reset closes the client's connection with a TCP RST.
func reset(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

func registryError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"errors":[{"code":%q,"message":%q}]}`, code, msg)
}

// cutWriter passes the headers (with the full Content-Length) and the
// first half of the body, then aborts the connection.
type cutWriter struct {
	http.ResponseWriter
	limit   int64 // bytes of body to pass; -1 until the headers are seen
	written int64
	started bool
}

func (c *cutWriter) WriteHeader(code int) {
	c.started = true
	cl, _ := strconv.ParseInt(c.Header().Get("Content-Length"), 10, 64)
	c.limit = cl / 2
	c.ResponseWriter.WriteHeader(code)
}

func (c *cutWriter) Write(b []byte) (int, error) {
	if !c.started {
		c.WriteHeader(http.StatusOK)
	}
	if room := c.limit - c.written; int64(len(b)) > room {
		if room > 0 {
			_, _ = c.ResponseWriter.Write(b[:room])
		}
		if f, ok := c.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler)
	}
	c.written += int64(len(b))
	return c.ResponseWriter.Write(b)
}

func (c *cutWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
