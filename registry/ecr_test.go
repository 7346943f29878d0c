package registry

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

func TestIsECRHost(t *testing.T) {
	for _, tc := range []struct {
		host   string
		region string
		ok     bool
	}{
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com", "us-east-1", true},
		{"123456789012.dkr.ecr.eu-west-1.amazonaws.com:443", "eu-west-1", true},
		{"123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", "us-gov-west-1", true},
		{"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "cn-north-1", true},
		{"public.ecr.aws", "us-east-1", true},
		{"dkr.ecr.us-east-1.amazonaws.com", "", false},
		{"12345.dkr.ecr.us-east-1.amazonaws.com", "", false},
		{"123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example", "", false},
		{"123456789012.dkr.ecr.us-east-1.amazonaws.org", "", false},
		{"evil.example/123456789012.dkr.ecr.us-east-1.amazonaws.com", "", false},
		{"ghcr.io", "", false},
		{"index.docker.io", "", false},
		{"127.0.0.1:5000", "", false},
	} {
		t.Run(tc.host, func(t *testing.T) {
			region, ok := IsECRHost(tc.host)
			if ok != tc.ok || region != tc.region {
				t.Errorf("IsECRHost(%q) = %q, %v; want %q, %v", tc.host, region, ok, tc.region, tc.ok)
			}
		})
	}
}

// awsServer speaks the two AWS APIs the ECR keychain needs: ECR
// GetAuthorizationToken (JSON 1.1) and STS AssumeRoleWithWebIdentity
// (query protocol). It records the SigV4 credential scopes it saw.
type awsServer struct {
	srv        *httptest.Server
	webToken   string
	mu         sync.Mutex
	ecrAuth    []string // Authorization headers of ECR calls
	ecrSession []string // X-Amz-Security-Token of ECR calls
	stsCalls   int
}

func newAWSServer(t *testing.T, webToken string) *awsServer {
	a := &awsServer{webToken: webToken}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *awsServer) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		if target != "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken" {
			http.Error(w, "unknown target "+target, http.StatusBadRequest)
			return
		}
		var in struct{ RegistryIds []string }
		_ = json.Unmarshal(body, &in)
		a.mu.Lock()
		a.ecrAuth = append(a.ecrAuth, r.Header.Get("Authorization"))
		a.ecrSession = append(a.ecrSession, r.Header.Get("X-Amz-Security-Token"))
		a.mu.Unlock()
		id := "123456789012"
		if len(in.RegistryIds) == 1 {
			id = in.RegistryIds[0]
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fmt.Fprintf(w, `{"authorizationData":[{"authorizationToken":%q,"expiresAt":%d,"proxyEndpoint":"https://%s.dkr.ecr.us-west-2.amazonaws.com"}]}`,
			base64.StdEncoding.EncodeToString([]byte("AWS:ecr-token-for-"+id)), time.Now().Add(12*time.Hour).Unix(), id)
		return
	}
	form, _ := url.ParseQuery(string(body))
	if form.Get("Action") != "AssumeRoleWithWebIdentity" {
		http.Error(w, "unknown action", http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	a.stsCalls++
	a.mu.Unlock()
	if form.Get("WebIdentityToken") != a.webToken || form.Get("RoleArn") != "arn:aws:iam::123456789012:role/builder" {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>bad web identity</Message></Error></ErrorResponse>`)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAWEBIDENTITY</AccessKeyId>
<SecretAccessKey>web-secret</SecretAccessKey><SessionToken>web-session</SessionToken>
<Expiration>%s</Expiration></Credentials>
<AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/builder/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser>
</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`,
		time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
}

// isolateAWS clears the AWS environment so only what a test sets counts.
func isolateAWS(t *testing.T, a *awsServer) {
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "")
			os.Unsetenv(k)
		}
	}
	dir := t.TempDir()
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL_ECR", a.srv.URL)
	t.Setenv("AWS_ENDPOINT_URL_STS", a.srv.URL)
}

func TestECRKeychain(t *testing.T) {
	const host = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
	for _, tc := range []struct {
		name      string
		host      string
		setup     func(t *testing.T, dir string)
		wantKey   string // access key id in the ECR call's signature
		wantScope string // region/service in the signature
		session   string
		sts       int
	}{
		{name: "env", host: host, setup: func(t *testing.T, _ string) {
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIAENVKEY")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
			t.Setenv("AWS_SESSION_TOKEN", "env-session")
		}, wantKey: "AKIAENVKEY", wantScope: "us-west-2/ecr", session: "env-session"},
		{name: "web identity", host: host, setup: func(t *testing.T, dir string) {
			tok := filepath.Join(dir, "token")
			writeFile(t, tok, "projected-sa-token")
			t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tok)
			t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/builder")
			t.Setenv("AWS_ROLE_SESSION_NAME", "builder-test")
		}, wantKey: "ASIAWEBIDENTITY", wantScope: "us-west-2/ecr", session: "web-session", sts: 1},
		{name: "shared credentials file", host: host, setup: func(t *testing.T, dir string) {
			f := filepath.Join(dir, "shared")
			writeFile(t, f, "[default]\naws_access_key_id = AKIASHARED\naws_secret_access_key = shared-secret\n")
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", f)
		}, wantKey: "AKIASHARED", wantScope: "us-west-2/ecr"},
		{name: "fips host", host: "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", setup: func(t *testing.T, _ string) {
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIAFIPS")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "fips-secret")
		}, wantKey: "AKIAFIPS", wantScope: "us-gov-west-1/ecr"},
		{name: "china host", host: "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", setup: func(t *testing.T, _ string) {
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIACHINA")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "cn-secret")
		}, wantKey: "AKIACHINA", wantScope: "cn-north-1/ecr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAWSServer(t, "projected-sa-token")
			isolateAWS(t, a)
			tc.setup(t, t.TempDir())
			kc := NewECRKeychain(WithECRCacheDir(t.TempDir()))
			reg, err := name.NewRegistry(tc.host)
			if err != nil {
				t.Fatal(err)
			}
			auth, err := authn.Resolve(testCtx(t), kc, reg)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := auth.Authorization()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Username != "AWS" || cfg.Password != "ecr-token-for-123456789012" {
				t.Errorf("credentials %q/%q, want AWS/ecr-token-for-123456789012", cfg.Username, cfg.Password)
			}
			a.mu.Lock()
			defer a.mu.Unlock()
			if len(a.ecrAuth) != 1 {
				t.Fatalf("%d ECR calls, want 1", len(a.ecrAuth))
			}
			if !strings.Contains(a.ecrAuth[0], "Credential="+tc.wantKey+"/") || !strings.Contains(a.ecrAuth[0], "/"+tc.wantScope+"/aws4_request") {
				t.Errorf("ECR call signed with %q, want key %s scope %s", a.ecrAuth[0], tc.wantKey, tc.wantScope)
			}
			if a.ecrSession[0] != tc.session {
				t.Errorf("session token %q, want %q", a.ecrSession[0], tc.session)
			}
			if a.stsCalls != tc.sts {
				t.Errorf("%d STS calls, want %d", a.stsCalls, tc.sts)
			}
		})
	}
}

func TestECRKeychainOtherHostsAndFailures(t *testing.T) {
	a := newAWSServer(t, "right-token")
	isolateAWS(t, a)
	kc := NewECRKeychain(WithECRCacheDir(t.TempDir()))
	ctx := testCtx(t)
	for _, h := range []string{"ghcr.io", "127.0.0.1:5000", "123456789012.dkr.ecr.us-west-2.amazonaws.com.example.org"} {
		reg, _ := name.NewRegistry(h)
		auth, err := authn.Resolve(ctx, kc, reg)
		if err != nil || auth != authn.Anonymous {
			t.Errorf("%s: got %v, %v; want anonymous", h, auth, err)
		}
	}
	const host = "123456789012.dkr.ecr.us-west-2.amazonaws.com"
	reg, _ := name.NewRegistry(host)
	t.Run("no credentials", func(t *testing.T) {
		_, err := authn.Resolve(ctx, kc, reg)
		if err == nil || !strings.Contains(err.Error(), "get ECR credentials for "+host) {
			t.Errorf("error %v, want one naming %s", err, host)
		}
	})
	t.Run("rejected web identity", func(t *testing.T) {
		tok := filepath.Join(t.TempDir(), "token")
		writeFile(t, tok, "wrong-token")
		t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", tok)
		t.Setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/builder")
		_, err := authn.Resolve(ctx, kc, reg)
		if err == nil || !strings.Contains(err.Error(), "get ECR credentials for "+host) {
			t.Errorf("error %v, want one naming %s", err, host)
		}
		if a.ecrAuth != nil {
			t.Errorf("ECR was called without credentials: %q", a.ecrAuth)
		}
	})
}

func TestGHCRKeychain(t *testing.T) {
	for _, tc := range []struct {
		name     string
		host     string
		env      map[string]string
		user     string
		password string
	}{
		{"github token", "ghcr.io", map[string]string{"GITHUB_TOKEN": "gh1", "GITHUB_ACTOR": "octo"}, "octo", "gh1"},
		{"ghcr token wins", "ghcr.io", map[string]string{"GITHUB_TOKEN": "gh1", "GHCR_TOKEN": "ghcr2"}, "x-access-token", "ghcr2"},
		{"no actor", "ghcr.io", map[string]string{"GITHUB_TOKEN": "gh1"}, "x-access-token", "gh1"},
		{"no token", "ghcr.io", map[string]string{"GITHUB_ACTOR": "octo"}, "", ""},
		{"other registry", "docker.pkg.github.com", map[string]string{"GITHUB_TOKEN": "gh1"}, "", ""},
		{"lookalike", "ghcr.io.example.com", map[string]string{"GITHUB_TOKEN": "gh1"}, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kc := NewGHCRKeychain(WithGetenv(func(k string) string { return tc.env[k] }))
			reg, _ := name.NewRegistry(tc.host)
			auth, err := kc.Resolve(reg)
			if err != nil {
				t.Fatal(err)
			}
			if tc.user == "" {
				if auth != authn.Anonymous {
					t.Errorf("got %v, want anonymous", auth)
				}
				return
			}
			cfg, err := auth.Authorization()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Username != tc.user || cfg.Password != tc.password {
				t.Errorf("got %s/%s, want %s/%s", cfg.Username, cfg.Password, tc.user, tc.password)
			}
		})
	}
}
