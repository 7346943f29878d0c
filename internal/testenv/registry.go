package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Registry is a running Debian docker-registry (distribution 2.8) bound to
// 127.0.0.1 on a free port, with storage under t.TempDir(). It is stopped
// (its whole process group) when the test ends.
type Registry struct {
	// Dir holds the configuration, storage, certificates and log.
	Dir string
	// CAFile is the PEM file of the CA that signed the server certificate;
	// "" for a plain-HTTP registry.
	CAFile string
	// CertDir is a directory holding only ca.crt, the layout skopeo's
	// --cert-dir and /etc/containers/certs.d expect; "" for plain HTTP.
	CertDir string
	// Username and Password are the credentials ("" without auth).
	Username, Password string
	// TokenRealm is the token server URL for token auth, else "".
	TokenRealm string

	host    string
	logFile string
}

type registryConfig struct {
	tls        bool
	basic      bool
	token      bool
	user, pass string
}

// RegistryOption configures StartRegistry.
type RegistryOption func(*registryConfig)

// WithTLS serves HTTPS with a server certificate for IP 127.0.0.1 signed by
// a fresh test CA (Registry.CAFile).
func WithTLS() RegistryOption { return func(c *registryConfig) { c.tls = true } }

// WithBasicAuth requires htpasswd (bcrypt) basic auth; it implies WithTLS.
func WithBasicAuth(user, password string) RegistryOption {
	return func(c *registryConfig) { c.tls, c.basic, c.user, c.pass = true, true, user, password }
}

// WithTokenAuth requires bearer tokens from a token server the harness
// starts (HTTPS, same CA) that accepts these basic credentials; it implies
// WithTLS.
func WithTokenAuth(user, password string) RegistryOption {
	return func(c *registryConfig) { c.tls, c.token, c.user, c.pass = true, true, user, password }
}

// Host returns "127.0.0.1:PORT".
func (r *Registry) Host() string { return r.host }

// TLS reports whether the registry serves HTTPS.
func (r *Registry) TLS() bool { return r.CAFile != "" }

// URL returns the base URL, http:// or https://.
func (r *Registry) URL() string {
	if r.TLS() {
		return "https://" + r.host
	}
	return "http://" + r.host
}

// Ref returns "127.0.0.1:PORT/" + repo (repo may carry ":tag" or "@digest").
func (r *Registry) Ref(repo string) string { return r.host + "/" + repo }

// Logs returns what the registry has written so far (for failure messages).
func (r *Registry) Logs() string {
	b, _ := os.ReadFile(r.logFile)
	return string(b)
}

// SkopeoFlags returns the TLS and credential flags skopeo needs for this
// registry; prefix is "src-", "dest-" or "" (for inspect).
func (r *Registry) SkopeoFlags(prefix string) []string {
	var args []string
	if r.TLS() {
		args = append(args, "--"+prefix+"cert-dir="+r.CertDir)
	} else {
		args = append(args, "--"+prefix+"tls-verify=false")
	}
	if r.Username != "" {
		args = append(args, "--"+prefix+"creds="+r.Username+":"+r.Password)
	}
	return args
}

// DockerConfigDir writes a Docker config.json holding this registry's
// credentials into a new temp dir and returns the dir (for DOCKER_CONFIG).
func (r *Registry) DockerConfigDir(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	auths := map[string]any{}
	if r.Username != "" {
		auths[r.host] = map[string]string{
			"auth": base64.StdEncoding.EncodeToString([]byte(r.Username + ":" + r.Password))}
	}
	data, err := json.Marshal(map[string]any{"auths": auths})
	if err != nil {
		t.Fatalf("encode docker config: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
		t.Fatalf("write docker config: %v", err)
	}
	return dir
}

// HTTPClient returns a client that trusts the registry's CA.
func (r *Registry) HTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if r.TLS() {
		pool := x509.NewCertPool()
		if pem, err := os.ReadFile(r.CAFile); err == nil {
			pool.AppendCertsFromPEM(pem)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// StartRegistry starts docker-registry and waits until GET /v2/ answers.
func StartRegistry(t testing.TB, opts ...RegistryOption) *Registry {
	t.Helper()
	NeedTool(t, "docker-registry")
	var cfg registryConfig
	for _, o := range opts {
		o(&cfg)
	}
	r := &Registry{Dir: t.TempDir()}
	r.logFile = filepath.Join(r.Dir, "registry.log")
	var tlsBlock, authBlock string
	if cfg.tls {
		ca := NewCA(t, r.Dir)
		srv := ca.ServerCert(t, r.Dir, "server")
		r.CAFile = ca.CertFile
		r.CertDir = filepath.Join(r.Dir, "certs.d")
		mustMkdir(t, r.CertDir)
		copyFile(t, ca.CertFile, filepath.Join(r.CertDir, "ca.crt"))
		tlsBlock = fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", srv.CertFile, srv.KeyFile)
		if cfg.token {
			signer := SelfSigned(t, r.Dir, "token-signer")
			ts := startTokenServer(t, srv, signer, "builder-test-registry", "builder-test-issuer", cfg.user, cfg.pass)
			r.TokenRealm = ts.url
			authBlock = fmt.Sprintf("auth:\n  token:\n    realm: %s\n    service: %s\n    issuer: %s\n    rootcertbundle: %s\n",
				ts.url, ts.service, ts.issuer, signer.CertFile)
		}
	}
	if cfg.basic {
		NeedTool(t, "htpasswd")
		file := filepath.Join(r.Dir, "htpasswd")
		out, err := exec.Command("htpasswd", "-Bbc", file, cfg.user, cfg.pass).CombinedOutput()
		if err != nil {
			t.Fatalf("htpasswd: %v: %s", err, out)
		}
		authBlock = fmt.Sprintf("auth:\n  htpasswd:\n    realm: builder-test\n    path: %s\n", file)
	}
	if cfg.basic || cfg.token {
		r.Username, r.Password = cfg.user, cfg.pass
	}
	storage := filepath.Join(r.Dir, "storage")
	mustMkdir(t, storage)
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("find free port: %v", err)
		}
		r.host = fmt.Sprintf("127.0.0.1:%d", port)
		conf := fmt.Sprintf("version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n"+
			"storage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\n"+
			"  maintenance:\n    uploadpurging:\n      enabled: false\n"+
			"http:\n  addr: %s\n  secret: builder-test-secret\n%s%s",
			storage, r.host, tlsBlock, authBlock)
		confFile := filepath.Join(r.Dir, "config.yml")
		if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
			t.Fatalf("write registry config: %v", err)
		}
		if lastErr = r.start(t, confFile); lastErr == nil {
			return r
		}
	}
	t.Fatalf("start docker-registry: %v\n%s", lastErr, r.Logs())
	return nil
}

func (r *Registry) start(t testing.TB, confFile string) error {
	t.Helper()
	logf, err := os.OpenFile(r.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open registry log: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command("docker-registry", "serve", confFile)
	cmd.Env = cleanEnv("REGISTRY_", "OTEL_")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = r.Dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start docker-registry: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stop := func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		// Anything else left in the group goes too.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	client := r.HTTPClient()
	client.Timeout = time.Second
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			return fmt.Errorf("docker-registry exited early: %v", err)
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.URL()+"/v2/", nil)
		resp, err := client.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				t.Cleanup(stop)
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return errors.New("docker-registry did not answer GET /v2/ within 20s")
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// cleanEnv returns os.Environ() without variables having the given prefixes.
func cleanEnv(prefixes ...string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, p := range prefixes {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
}

// NeedTool fails the test when a required program is missing: CI installs
// them (scripts/install-deps.sh), so a missing tool is a broken machine, not
// a reason to skip.
func NeedTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found in PATH (run scripts/install-deps.sh): %v", name, err)
	}
	return p
}

func mustMkdir(t testing.TB, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("mkdir %s: %v", dir, err)
	}
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("read %s: %v", src, err)
	}
	if err := os.WriteFile(dst, data, 0o644); err != nil {
		t.Fatalf("write %s: %v", dst, err)
	}
}
