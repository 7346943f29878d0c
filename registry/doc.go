// Package registry is how builder talks to image registries, for pulls
// (base images, cache import) and pushes (images, cache export) alike: the
// keychain (auth files, Docker config and credential helpers, Amazon ECR,
// GHCR), the HTTP transport (per-host CAs and client certificates,
// insecure hosts, retries with backoff and Retry-After, resumed bodies,
// blob digest checks), login/logout and the credential store, and
// the go-containerregistry remote options built from all of them. Its
// errors are one line that names the registry, the repository and what
// was asked, and says what to do. It knows nothing of the solver, the
// exporter or the cache.
package registry
