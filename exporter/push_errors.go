package exporter

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Registry failures callers may tell apart with errors.Is.
var (
	// ErrAuthentication: the registry or its token service refused the
	// credentials (401).
	ErrAuthentication = errors.New("authentication failed")
	// ErrDenied: the credentials are valid but lack the permission (403).
	ErrDenied = errors.New("denied")
	// ErrUnknownAuthority: the registry's TLS certificate is not signed by
	// a trusted CA.
	ErrUnknownAuthority = errors.New("certificate signed by unknown authority")
)

// registryError is a one-line message that still unwraps to a sentinel and
// the underlying error.
type registryError struct {
	msg  string
	errs []error
}

func (e *registryError) Error() string   { return e.msg }
func (e *registryError) Unwrap() []error { return e.errs }

// pushError turns err from a registry operation on ref into one line that
// names the registry: "push to REF: authentication failed for HOST: ...".
func pushError(ref string, r name.Reference, err error) error {
	return wrapRegistryError("push to "+ref, r.Context().RegistryStr(), r.Context().RepositoryStr(), err)
}

func wrapRegistryError(prefix, host, repo string, err error) error {
	detail := oneLine(err.Error())
	var te *transport.Error
	hasTE := errors.As(err, &te)
	var uae x509.UnknownAuthorityError
	switch {
	case errors.As(err, &uae) || strings.Contains(detail, "certificate signed by unknown authority"):
		return &registryError{
			msg: fmt.Sprintf("%s: %s for %s (use --registry-certs DIR with DIR/%s/ca.crt, or SSL_CERT_FILE)",
				prefix, ErrUnknownAuthority, host, host),
			errs: []error{ErrUnknownAuthority, err}}
	case hasTE && te.StatusCode == http.StatusUnauthorized, hasCode(te, transport.UnauthorizedErrorCode):
		return &registryError{msg: fmt.Sprintf("%s: %s for %s: %s", prefix, ErrAuthentication, host, detail),
			errs: []error{ErrAuthentication, err}}
	case hasTE && te.StatusCode == http.StatusForbidden, hasCode(te, transport.DeniedErrorCode):
		return &registryError{msg: fmt.Sprintf("%s: %s: no access to %s on %s: %s", prefix, ErrDenied, repo, host, detail),
			errs: []error{ErrDenied, err}}
	}
	if !strings.Contains(detail, host) {
		detail = host + ": " + detail
	}
	return &registryError{msg: prefix + ": " + detail, errs: []error{err}}
}

func hasCode(te *transport.Error, code transport.ErrorCode) bool {
	if te == nil {
		return false
	}
	for _, d := range te.Errors {
		if d.Code == code {
			return true
		}
	}
	return false
}

// oneLine folds a multi-line message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
