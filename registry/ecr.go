package registry

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/awslabs/amazon-ecr-credential-helper/ecr-login/api"
	"github.com/google/go-containerregistry/pkg/authn"
)

// ecrKeychain gives credentials for Amazon ECR registries through the
// ecr-login library and the AWS SDK's default credential chain.
type ecrKeychain struct {
	cacheDir string
}

var _ authn.ContextKeychain = (*ecrKeychain)(nil)

// NewECRKeychain returns a keychain for Amazon ECR: private registries
// ACCOUNT.dkr.ecr[-fips].REGION.amazonaws.com (and .amazonaws.com.cn and
// the other AWS partitions) and ECR Public (public.ecr.aws). AWS
// credentials come from the SDK's default chain: AWS_ACCESS_KEY_ID /
// AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, web identity (IRSA:
// AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN through STS
// AssumeRoleWithWebIdentity), the shared config and credentials files
// (AWS_PROFILE), then the instance role (IMDSv2). The token comes from ECR
// GetAuthorizationToken for the registry's region; AWS_ENDPOINT_URL,
// AWS_ENDPOINT_URL_ECR and AWS_ENDPOINT_URL_STS override the endpoints.
// Other registries resolve to anonymous; an ECR registry whose token cannot
// be had is an error naming it.
func NewECRKeychain(opts ...Option) authn.Keychain {
	return &ecrKeychain{cacheDir: makeConfig(opts).ecrCacheDir}
}

// IsECRHost reports whether host (HOST or HOST:PORT) is an Amazon ECR
// registry the ECR keychain answers for, and its region.
func IsECRHost(host string) (region string, ok bool) {
	reg, err := api.ExtractRegistry(host)
	if err != nil {
		return "", false
	}
	if reg.Service == api.ServiceECRPublic {
		return "us-east-1", true
	}
	return reg.Region, true
}

func (k *ecrKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), r)
}

func (k *ecrKeychain) ResolveContext(ctx context.Context, r authn.Resource) (authn.Authenticator, error) {
	host := r.RegistryStr()
	reg, err := api.ExtractRegistry(host)
	if err != nil {
		return authn.Anonymous, nil
	}
	region := reg.Region
	if reg.Service == api.ServiceECRPublic {
		region = "us-east-1"
	}
	loadOpts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRegion(region)}
	// The SDK refuses FIPS with a custom endpoint: an explicit endpoint wins.
	if reg.FIPS && os.Getenv("AWS_ENDPOINT_URL_ECR") == "" && os.Getenv("AWS_ENDPOINT_URL") == "" {
		loadOpts = append(loadOpts, awsconfig.WithUseFIPSEndpoint(aws.FIPSEndpointStateEnabled))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("get ECR credentials for %s: load AWS config: %w", host, err)
	}
	client := api.DefaultClientFactory{}.NewClientWithOptions(api.Options{Config: cfg, CacheDir: k.cacheDir})
	auth, err := client.GetCredentials(host)
	if err != nil {
		return nil, fmt.Errorf("get ECR credentials for %s: %w", host, err)
	}
	return &authn.Basic{Username: auth.Username, Password: auth.Password}, nil
}
