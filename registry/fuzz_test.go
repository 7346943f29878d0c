package registry

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// FuzzErrorResponse feeds what a registry answers (status, Retry-After,
// body) to a request into the parsing we own: Retry-After, what the
// request was doing, and the error message made of the registry's error
// body. It must never panic, and the message stays one line without Go
// internals.
func FuzzErrorResponse(f *testing.F) {
	f.Add(404, "", `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}`, "GET", "/v2/team/app/manifests/v1")
	f.Add(401, "", `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":[{"Type":"repository","Name":"app","Action":"push"}]}]}`, "PUT", "/v2/app/manifests/latest")
	f.Add(429, "5", "", "HEAD", "/v2/a/blobs/sha256:00")
	f.Add(503, "Wed, 21 Oct 2015 07:28:00 GMT", "<html>busy\n</html>", "POST", "/v2/a/blobs/uploads/?mount=sha256:00&from=b")
	f.Add(500, "-3", `{"errors":[{"code":"","message":"line one\nline two"}]}`, "PATCH", "/v2/a/blobs/uploads/123")
	f.Add(403, "", `{"errors":null}`, "GET", "/token?scope=repository:a:pull&service=r")
	f.Add(429, "", "", "GET", "/v2/0%0A%20/v2/0")
	f.Add(404, "", "", "POST", "/v2/a/blobs/uploads/?mount=sha256:00&from=b%0Ac")
	now := time.Unix(1700000000, 0)
	kc := authn.NewMultiKeychain() // anonymous: no host files are read
	f.Fuzz(func(t *testing.T, code int, retry, body, method, p string) {
		if code < 100 || code > 599 {
			code = 500
		}
		if d := retryAfter(retry, now); d < 0 {
			t.Fatalf("retryAfter(%q) = %v, negative", retry, d)
		}
		u, err := url.Parse("https://registry.test" + p)
		if err != nil {
			return
		}
		req := &http.Request{Method: method, URL: u, Header: http.Header{}}
		resp := &http.Response{
			StatusCode: code, Header: http.Header{"Retry-After": {retry}},
			Body: io.NopCloser(strings.NewReader(body)), Request: req,
		}
		cerr := transport.CheckError(resp, http.StatusOK)
		if cerr == nil {
			return
		}
		e := Wrap(context.Background(), OpPull, "registry.test/team/app:v1", cerr, WithKeychain(kc))
		msg := e.Error()
		if strings.ContainsAny(msg, "\n\r") {
			t.Fatalf("message spans lines: %q", msg)
		}
		for _, bad := range []string{"map[", "&{", "transport.Error", "<nil>"} {
			if strings.Contains(msg, bad) {
				t.Fatalf("message shows Go internals (%q): %q", bad, msg)
			}
		}
	})
}
