package registry

import (
	"context"

	"github.com/google/go-containerregistry/pkg/authn"
)

// GHCRHost is the GitHub Container Registry.
const GHCRHost = "ghcr.io"

// ghcrKeychain gives credentials for ghcr.io from the environment.
type ghcrKeychain struct {
	getenv func(string) string
}

var _ authn.ContextKeychain = (*ghcrKeychain)(nil)

// NewGHCRKeychain returns a keychain for ghcr.io that uses $GHCR_TOKEN,
// else $GITHUB_TOKEN (as in GitHub Actions), as the password and
// $GITHUB_ACTOR, else "x-access-token", as the user. Other registries, or
// no token, resolve to anonymous.
func NewGHCRKeychain(opts ...Option) authn.Keychain {
	return &ghcrKeychain{getenv: makeConfig(opts).getenv}
}

func (k *ghcrKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), r)
}

func (k *ghcrKeychain) ResolveContext(_ context.Context, r authn.Resource) (authn.Authenticator, error) {
	if r.RegistryStr() != GHCRHost {
		return authn.Anonymous, nil
	}
	token := k.getenv("GHCR_TOKEN")
	if token == "" {
		token = k.getenv("GITHUB_TOKEN")
	}
	if token == "" {
		return authn.Anonymous, nil
	}
	user := k.getenv("GITHUB_ACTOR")
	if user == "" {
		user = "x-access-token"
	}
	return &authn.Basic{Username: user, Password: token}, nil
}
