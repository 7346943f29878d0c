package registry

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// DefaultCertsDir is where Docker keeps per-registry certificates
// (/etc/docker/certs.d/HOST[:PORT]/ca.crt).
const DefaultCertsDir = "/etc/docker/certs.d"

// registryTransport is an http.RoundTripper for registries that picks the
// TLS configuration per host: the system pool (which honours SSL_CERT_FILE
// and SSL_CERT_DIR) plus every *.crt in certsDir/HOST/, a client
// certificate from certsDir/HOST/*.cert + *.key, and no verification for
// hosts listed as insecure. It refuses plain http except for insecure hosts
// and loopback addresses.
type registryTransport struct {
	base     *http.Transport
	certsDir string
	insecure []string

	mu     sync.Mutex
	byHost map[string]http.RoundTripper
}

var _ http.RoundTripper = (*registryTransport)(nil)

func newRegistryTransport(certsDir string, insecure []string) *registryTransport {
	base := http.DefaultTransport.(*http.Transport).Clone()
	base.ForceAttemptHTTP2 = true
	return &registryTransport{base: base, certsDir: certsDir, insecure: insecure,
		byHost: map[string]http.RoundTripper{}}
}

func (t *registryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	if req.URL.Scheme == "http" && !plainHTTPAllowed(host, t.insecure) {
		return nil, fmt.Errorf("refusing plain http to %s (mark it with --insecure-registry %s)", host, host)
	}
	rt, err := t.forHost(host)
	if err != nil {
		return nil, err
	}
	return rt.RoundTrip(req)
}

// forHost returns (and remembers) the transport for one host.
func (t *registryTransport) forHost(host string) (http.RoundTripper, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if rt, ok := t.byHost[host]; ok {
		return rt, nil
	}
	cfg, err := tlsConfigFor(host, t.certsDir, isInsecureHost(host, t.insecure))
	if err != nil {
		return nil, err
	}
	rt := http.RoundTripper(t.base)
	if cfg != nil {
		tr := t.base.Clone()
		tr.TLSClientConfig = cfg
		rt = tr
	}
	t.byHost[host] = rt
	return rt, nil
}

// tlsConfigFor builds the TLS configuration for host, or returns nil when
// the defaults apply (no certificates dir for it, not insecure).
func tlsConfigFor(host, certsDir string, insecure bool) (*tls.Config, error) {
	dir := hostCertsDir(certsDir, host)
	if dir == "" && !insecure {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // --insecure-registry asks for it
	if dir == "" {
		return cfg, nil
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read registry certificates %s: %w", dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(dir, name)
		switch {
		case strings.HasSuffix(name, ".crt"):
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("read registry CA %s: %w", p, err)
			}
			if !pool.AppendCertsFromPEM(data) {
				return nil, fmt.Errorf("read registry CA %s: no PEM certificate", p)
			}
		case strings.HasSuffix(name, ".cert"):
			keyFile := strings.TrimSuffix(p, ".cert") + ".key"
			pair, err := tls.LoadX509KeyPair(p, keyFile)
			if err != nil {
				return nil, fmt.Errorf("load registry client certificate %s: %w", p, err)
			}
			cfg.Certificates = append(cfg.Certificates, pair)
		}
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// hostCertsDir returns certsDir/HOST:PORT, else certsDir/HOST, if it is a
// directory; "" otherwise.
func hostCertsDir(certsDir, host string) string {
	if certsDir == "" {
		return ""
	}
	cands := []string{host}
	if h, _, err := net.SplitHostPort(host); err == nil {
		cands = append(cands, h)
	}
	for _, c := range cands {
		if strings.ContainsAny(c, `/\`) || c == "." || c == ".." {
			continue
		}
		dir := filepath.Join(certsDir, c)
		if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
			return dir
		}
	}
	return ""
}

// isInsecureHost reports whether host (HOST or HOST:PORT) is listed.
func isInsecureHost(host string, insecure []string) bool {
	hostname := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		hostname = h
	}
	for _, i := range insecure {
		i = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(i, "http://"), "https://"), "/")
		if strings.EqualFold(i, host) || strings.EqualFold(i, hostname) {
			return true
		}
	}
	return false
}

// plainHTTPAllowed: plain http only for insecure hosts and loopback.
func plainHTTPAllowed(host string, insecure []string) bool {
	if isInsecureHost(host, insecure) {
		return true
	}
	hostname := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		hostname = h
	}
	if strings.EqualFold(hostname, "localhost") {
		return true
	}
	ip := net.ParseIP(hostname)
	return ip != nil && ip.IsLoopback()
}
