package registry

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Registry failures callers may tell apart with errors.Is.
var (
	// ErrAuthentication: the registry or its token service answered 401.
	// Every such error is also ErrNoCredentials or ErrCredentialsRejected.
	ErrAuthentication = errors.New("authentication failed")
	// ErrNoCredentials: a 401 and no credentials saved for the registry.
	ErrNoCredentials = errors.New("authentication required")
	// ErrCredentialsRejected: a 401 although credentials were sent.
	ErrCredentialsRejected = errors.New("credentials rejected")
	// ErrDenied: the credentials are valid but lack the permission (403).
	ErrDenied = errors.New("denied")
	// ErrNotFound: the repository, tag, manifest or blob does not exist.
	ErrNotFound = errors.New("not found")
	// ErrUnknownAuthority: the registry's TLS certificate is not signed by
	// a trusted CA.
	ErrUnknownAuthority = errors.New("certificate signed by unknown authority")
)

// Op is what was asked of a registry; it starts the error message.
type Op string

// The operations errors are reported for.
const (
	OpPull        Op = "pull"
	OpPush        Op = "push to"
	OpLogin       Op = "login to"
	OpImportCache Op = "import cache from"
	OpExportCache Op = "export cache to"
)

// verb is what the operation does to a repository, for messages.
func (o Op) verb() string {
	switch o {
	case OpPush, OpExportCache:
		return "push to"
	case OpLogin:
		return "log in to"
	default:
		return "pull from"
	}
}

// Error is a failed registry operation as one line that names the
// registry, the repository and the request that failed and says what to
// do. It unwraps to one of the package's sentinels (when one applies) and
// to the underlying error.
type Error struct {
	Op         Op
	Ref        string // the image reference (the host for OpLogin) as given
	Registry   string // HOST[:PORT]
	Repository string // "" for OpLogin
	Request    string // what was being done when it failed ("uploading a blob"), "" if unknown

	msg  string
	errs []error
}

func (e *Error) Error() string   { return e.msg }
func (e *Error) Unwrap() []error { return e.errs }

// Wrap is Client.Wrap for a client made of opts (by default the keychain
// the process uses, to tell missing credentials from rejected ones).
func Wrap(ctx context.Context, op Op, ref string, err error, opts ...Option) error {
	return New(opts...).Wrap(ctx, op, ref, err)
}

// Wrap turns err, from op on ref, into an *Error (nil stays nil; an *Error
// is returned as is). The message never shows go-containerregistry's
// internals: registry diagnostics appear as "CODE: message" only.
func (cl *Client) Wrap(ctx context.Context, op Op, ref string, err error) error {
	if err == nil {
		return nil
	}
	var already *Error
	if errors.As(err, &already) {
		return err
	}
	e := &Error{Op: op, Ref: ref}
	e.Registry, e.Repository = splitRef(op, ref)
	var te *transport.Error
	if errors.As(err, &te) {
		what, repo := describeRequest(te.Request, e.Registry)
		e.Request = what
		if repo != "" {
			e.Repository = repo
		}
	}
	sentinels, text := cl.explain(ctx, e, te, err)
	var re *RetryError
	switch {
	case errors.As(err, &re):
		if !strings.Contains(text, re.Summary()) {
			text += " (" + re.Summary() + ")"
		}
	case shouldRestart(err) && ctx.Err() == nil:
		// go-containerregistry started the upload or put over until
		// its tries were spent.
		text += fmt.Sprintf(" (gave up after %d tries)", cl.c.retry.tries)
	}
	e.msg = fmt.Sprintf("%s %s: %s", op, ref, text)
	e.errs = append(sentinels, err)
	return e
}

// explain classifies err and says it in words.
func (cl *Client) explain(ctx context.Context, e *Error, te *transport.Error, err error) ([]error, string) {
	host, repo, verb := e.Registry, e.Repository, e.Op.verb()
	asked := ""
	if e.Request != "" {
		asked = " (" + e.Request + ")"
	}
	var uae x509.UnknownAuthorityError
	if errors.As(err, &uae) || strings.Contains(err.Error(), "certificate signed by unknown authority") {
		certHost := host
		var ue *url.Error
		if errors.As(err, &ue) {
			if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
				certHost = u.Host
			}
		}
		return []error{ErrUnknownAuthority}, fmt.Sprintf("%s for %s (use --registry-certs DIR with DIR/%s/ca.crt, or SSL_CERT_FILE)",
			ErrUnknownAuthority, certHost, certHost)
	}
	if te == nil {
		detail := oneLine(err.Error())
		var ue *url.Error
		if errors.As(err, &ue) && !strings.Contains(detail, host) {
			detail = "registry " + host + ": " + detail
		}
		return nil, detail
	}
	switch {
	case te.StatusCode == http.StatusUnauthorized || hasCode(te, transport.UnauthorizedErrorCode):
		if e.Op == OpLogin {
			return []error{ErrCredentialsRejected, ErrAuthentication}, fmt.Sprintf(
				"%s: registry %s rejected the user name and password%s; check them and try again", ErrAuthentication, host, asked)
		}
		if !cl.hasCredentials(ctx, te.Request, host, repo) {
			return []error{ErrNoCredentials, ErrAuthentication}, fmt.Sprintf(
				"%s: registry %s wants credentials to %s repository %q and none are saved for it%s; run \"builder login %s\"",
				ErrNoCredentials, host, verb, repo, asked, host)
		}
		return []error{ErrCredentialsRejected, ErrAuthentication}, fmt.Sprintf(
			"%s: the credentials saved for registry %s were rejected when trying to %s repository %q%s; run \"builder login %s\" with valid ones",
			ErrAuthentication, host, verb, repo, asked, host)
	case te.StatusCode == http.StatusForbidden || hasCode(te, transport.DeniedErrorCode):
		hint := "check the repository name and that the saved credentials may " + verb + " it"
		if !cl.hasCredentials(ctx, te.Request, host, repo) {
			hint = fmt.Sprintf("no credentials are saved for it: run \"builder login %s\" with an account that may %s it", host, verb)
		}
		return []error{ErrDenied}, fmt.Sprintf("%s: registry %s gives no access to %s repository %q%s; %s",
			ErrDenied, host, verb, repo, asked, hint)
	case te.StatusCode == http.StatusNotFound || hasCode(te, transport.NameUnknownErrorCode) ||
		hasCode(te, transport.ManifestUnknownErrorCode) || hasCode(te, transport.BlobUnknownErrorCode):
		return []error{ErrNotFound}, notFound(e, te, asked)
	}
	msg := fmt.Sprintf("registry %s answered %d %s for repository %q%s", host, te.StatusCode, http.StatusText(te.StatusCode), repo, asked)
	if d := diagnostics(te); d != "" {
		msg += ": " + d
	}
	if te.StatusCode == http.StatusTooManyRequests || te.StatusCode >= 500 {
		msg += "; try again later"
	}
	return nil, msg
}

// notFound says what is missing: the repository, a tag, a manifest or a blob.
func notFound(e *Error, te *transport.Error, asked string) string {
	host, repo := e.Registry, e.Repository
	if hasCode(te, transport.NameUnknownErrorCode) {
		return fmt.Sprintf("%s: repository %q does not exist on registry %s%s; check the image name", ErrNotFound, repo, host, asked)
	}
	what := "what was asked"
	if te.Request != nil {
		p := te.Request.URL.EscapedPath() // as sent: never a raw control character
		if i := strings.LastIndex(p, "/manifests/"); i >= 0 {
			what = "manifest " + p[i+len("/manifests/"):]
			if !strings.Contains(what, ":") {
				what = fmt.Sprintf("tag %q", p[i+len("/manifests/"):])
			}
		} else if i := strings.LastIndex(p, "/blobs/"); i >= 0 && !strings.Contains(p, "/blobs/uploads") {
			what = "blob " + p[i+len("/blobs/"):]
		}
	}
	return fmt.Sprintf("%s: repository %q on registry %s has no %s%s; check the image name and tag", ErrNotFound, repo, host, what, asked)
}

// hasCredentials tells whether credentials were sent or are saved for repo
// on host: a Basic Authorization header on the failed request, else what
// the keychain has.
func (cl *Client) hasCredentials(ctx context.Context, req *http.Request, host, repo string) bool {
	if req != nil && strings.HasPrefix(req.Header.Get("Authorization"), "Basic ") {
		return true
	}
	var res authn.Resource
	if r, err := name.NewRepository(host + "/" + repo); repo != "" && err == nil {
		res = r
	} else if reg, err := name.NewRegistry(host); err == nil {
		res = reg
	} else {
		return false
	}
	auth, err := authn.Resolve(ctx, cl.c.keychain, res)
	if err != nil {
		return true // something is configured for it, and it failed
	}
	return auth != authn.Anonymous
}

// splitRef gives the registry and repository of ref.
func splitRef(op Op, ref string) (host, repo string) {
	if op == OpLogin {
		if reg, err := (&config{}).registry(ref); err == nil {
			return reg.RegistryStr(), ""
		}
		return ref, ""
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return ref, ""
	}
	return r.Context().RegistryStr(), r.Context().RepositoryStr()
}

// describeRequest says what a failed request was doing, and for which
// repository ("" if it names none).
func describeRequest(req *http.Request, host string) (what, repo string) {
	if req == nil || req.URL == nil {
		return "", ""
	}
	u := req.URL
	path := u.EscapedPath() // as sent: a decoded path may hold control characters
	if !strings.HasPrefix(path, "/v2/") {
		q := u.Query()
		if req.Method == http.MethodPost || q.Has("service") || q.Has("scope") {
			return "getting an auth token from " + u.Host, ""
		}
		return "following a redirect to " + u.Host, ""
	}
	rest := strings.TrimPrefix(path, "/v2/")
	if rest == "" {
		return "checking access", ""
	}
	if i := strings.LastIndex(rest, "/manifests/"); i >= 0 {
		verbs := map[string]string{http.MethodGet: "reading", http.MethodHead: "checking",
			http.MethodPut: "writing", http.MethodDelete: "deleting"}
		return orDefault(verbs[req.Method], "requesting") + " the manifest", rest[:i]
	}
	if i := strings.LastIndex(rest, "/blobs/uploads"); i >= 0 {
		switch {
		case req.Method == http.MethodPost && u.Query().Has("mount"):
			return "mounting a blob from " + oneLine(u.Query().Get("from")), rest[:i]
		case req.Method == http.MethodPost:
			return "starting a blob upload", rest[:i]
		case req.Method == http.MethodPut:
			return "finishing a blob upload", rest[:i]
		}
		return "uploading a blob", rest[:i]
	}
	if i := strings.LastIndex(rest, "/blobs/"); i >= 0 {
		verbs := map[string]string{http.MethodGet: "reading", http.MethodHead: "checking"}
		return orDefault(verbs[req.Method], "requesting") + " blob " + rest[i+len("/blobs/"):], rest[:i]
	}
	return oneLine(req.Method) + " " + path, ""
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// diagnostics renders the registry's error entries as "CODE: message",
// leaving out their free-form details (which go-containerregistry would
// print as Go maps).
func diagnostics(te *transport.Error) string {
	var parts []string
	for _, d := range te.Errors {
		s := string(d.Code)
		if d.Message != "" {
			s += ": " + oneLine(d.Message)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
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
