package testenv

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// tokenServer is a small Docker token service (the realm of "auth: token"):
// it checks basic credentials and signs ES256 JWTs whose x5c header carries
// the signing certificate, which the registry trusts as its rootcertbundle.
type tokenServer struct {
	url      string
	service  string
	issuer   string
	user     string
	password string
	signer   *KeyPair
	srv      *http.Server
}

func startTokenServer(t testing.TB, server *KeyPair, signer *KeyPair, service, issuer, user, password string) *tokenServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen token server: %v", err)
	}
	// The realm names the host "localhost", as real token services use DNS
	// names: clients such as go-containerregistry refuse realms that are
	// loopback or private IP literals on another port than the registry.
	ts := &tokenServer{
		url:     fmt.Sprintf("https://localhost:%d/token", ln.Addr().(*net.TCPAddr).Port),
		service: service, issuer: issuer, user: user, password: password, signer: signer,
	}
	cert, err := tls.LoadX509KeyPair(server.CertFile, server.KeyFile)
	if err != nil {
		t.Fatalf("load token server certificate: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/token", ts.serveToken)
	ts.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	tlsLn := tls.NewListener(ln, ts.srv.TLSConfig)
	go func() { _ = ts.srv.Serve(tlsLn) }()
	t.Cleanup(func() { _ = ts.srv.Close() })
	return ts
}

func (ts *tokenServer) serveToken(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	if !ok || subtle.ConstantTimeCompare([]byte(user), []byte(ts.user)) != 1 ||
		subtle.ConstantTimeCompare([]byte(pass), []byte(ts.password)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="builder test token server"`)
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}`, http.StatusUnauthorized)
		return
	}
	if svc := r.URL.Query().Get("service"); svc != "" && svc != ts.service {
		http.Error(w, "unknown service", http.StatusBadRequest)
		return
	}
	var access []tokenAccess
	for _, scope := range r.URL.Query()["scope"] {
		access = append(access, parseScope(scope)...)
	}
	tok, err := ts.sign(user, access)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"token": tok, "access_token": tok, "expires_in": 600,
		"issued_at": time.Now().UTC().Format(time.RFC3339),
	})
}

type tokenAccess struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// parseScope reads "repository:name:pull,push" (name may hold a port colon
// in other registries, so the actions are after the last colon).
func parseScope(scope string) []tokenAccess {
	var out []tokenAccess
	for _, s := range strings.Fields(scope) {
		first := strings.Index(s, ":")
		last := strings.LastIndex(s, ":")
		if first < 0 || last <= first {
			continue
		}
		out = append(out, tokenAccess{Type: s[:first], Name: s[first+1 : last],
			Actions: strings.Split(s[last+1:], ",")})
	}
	return out
}

func (ts *tokenServer) sign(subject string, access []tokenAccess) (string, error) {
	if access == nil {
		access = []tokenAccess{}
	}
	now := time.Now()
	header := map[string]any{
		"typ": "JWT", "alg": "ES256",
		"x5c": []string{base64.StdEncoding.EncodeToString(ts.signer.Cert.Raw)},
	}
	var jti [8]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	claims := map[string]any{
		"iss": ts.issuer, "sub": subject, "aud": ts.service,
		"exp": now.Add(10 * time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(),
		"iat": now.Unix(), "jti": fmt.Sprintf("%x", jti), "access": access,
	}
	h, err := json.Marshal(header)
	if err != nil {
		return "", fmt.Errorf("encode header: %w", err)
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("encode claims: %w", err)
	}
	enc := base64.RawURLEncoding
	payload := enc.EncodeToString(h) + "." + enc.EncodeToString(c)
	sig, err := signES256(ts.signer.Key, []byte(payload))
	if err != nil {
		return "", err
	}
	return payload + "." + enc.EncodeToString(sig), nil
}

// signES256 returns the JWS signature: r and s, each 32 bytes big-endian.
func signES256(key *ecdsa.PrivateKey, data []byte) ([]byte, error) {
	sum := sha256.Sum256(data)
	r, s, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		return nil, fmt.Errorf("sign token: %w", err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return sig, nil
}
