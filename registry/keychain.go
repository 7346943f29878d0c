package registry

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	dockerconfig "github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// NewKeychain returns the credentials source for registries. The first
// source that has credentials for a registry wins:
//
//  1. $REGISTRY_AUTH_FILE, else podman's ${XDG_RUNTIME_DIR}/containers/auth.json
//     (Docker config format: auths, credsStore, credHelpers);
//  2. Docker's $DOCKER_CONFIG/config.json or ~/.docker/config.json with
//     auths, credsStore and credHelpers (go-containerregistry's
//     authn.DefaultKeychain), which is what `builder login` writes;
//  3. Amazon ECR for ACCOUNT.dkr.ecr[-fips].REGION.amazonaws.com[.cn] (and
//     public.ecr.aws): the AWS default credential chain (environment, web
//     identity / IRSA, shared files, IMDSv2) then ECR GetAuthorizationToken,
//     through the ecr-login library; AWS_ENDPOINT_URL[_ECR|_STS] override
//     the endpoints;
//  4. GitHub Container Registry (ghcr.io): $GHCR_TOKEN, else $GITHUB_TOKEN,
//     with the user $GITHUB_ACTOR (default "x-access-token").
//
// Without any, access is anonymous.
// WithGetenv and WithECRCacheDir apply; other options are ignored.
func NewKeychain(opts ...Option) authn.Keychain {
	return newKeychain(makeConfig(opts))
}

func newKeychain(c *config) authn.Keychain {
	return authn.NewMultiKeychain(
		&authFileKeychain{getenv: c.getenv},
		authn.DefaultKeychain,
		&ecrKeychain{cacheDir: c.ecrCacheDir},
		&ghcrKeychain{getenv: c.getenv},
	)
}

// authFileKeychain reads a containers-auth.json (podman, skopeo, buildah).
type authFileKeychain struct {
	getenv func(string) string
}

var _ authn.ContextKeychain = (*authFileKeychain)(nil)

// path returns the auth file to read, "" if none applies.
func (k *authFileKeychain) path() string {
	if p := k.getenv("REGISTRY_AUTH_FILE"); p != "" {
		return p
	}
	if d := k.getenv("XDG_RUNTIME_DIR"); d != "" {
		return filepath.Join(d, "containers", "auth.json")
	}
	return ""
}

func (k *authFileKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), r)
}

func (k *authFileKeychain) ResolveContext(_ context.Context, r authn.Resource) (authn.Authenticator, error) {
	p := k.path()
	if p == "" {
		return authn.Anonymous, nil
	}
	f, err := os.Open(p)
	if os.IsNotExist(err) {
		return authn.Anonymous, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read auth file: %w", err)
	}
	defer f.Close()
	cf, err := dockerconfig.LoadFromReader(f)
	if err != nil {
		return nil, fmt.Errorf("read auth file %s: %w", p, err)
	}
	var empty types.AuthConfig
	for _, key := range []string{r.String(), r.RegistryStr()} {
		if key == name.DefaultRegistry {
			key = authn.DefaultAuthKey
		}
		ac, err := cf.GetAuthConfig(key)
		if err != nil {
			return nil, fmt.Errorf("read auth file %s: %w", p, err)
		}
		ac.ServerAddress = ""
		if ac != empty {
			return authn.FromConfig(authn.AuthConfig{
				Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
				IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken,
			}), nil
		}
	}
	return authn.Anonymous, nil
}
