package registry

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/docker-credential-helpers/client"
	"github.com/docker/docker-credential-helpers/credentials"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Login checks username and password against registry (HOST[:PORT]) the
// way `docker login` does: GET /v2/ with the credentials, through the
// registry's token service when it has one. It stores nothing.
//
// Errors are one line naming the registry; errors.Is tells
// ErrCredentialsRejected (and ErrAuthentication) and ErrUnknownAuthority
// apart.
func Login(ctx context.Context, registry, username, password string, opts ...Option) error {
	cl := New(opts...)
	c := cl.c
	reg, err := c.registry(registry)
	if err != nil {
		return err
	}
	host := reg.RegistryStr()
	auth := &authn.Basic{Username: username, Password: password}
	tr, err := transport.NewWithContext(ctx, reg, auth, c.transport, nil)
	if err != nil {
		return cl.Wrap(ctx, OpLogin, host, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, reg.Scheme()+"://"+host+"/v2/", nil)
	if err != nil {
		return fmt.Errorf("login to %s: %w", host, err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return cl.Wrap(ctx, OpLogin, host, err)
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return cl.Wrap(ctx, OpLogin, host, err)
	}
	return nil
}

// registry parses HOST[:PORT] (an image reference is cut to its registry).
func (c *config) registry(s string) (name.Registry, error) {
	s = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(s, "https://"), "http://"), "/")
	if i := strings.IndexByte(s, '/'); i >= 0 {
		s = s[:i]
	}
	var nopts []name.Option
	if isInsecureHost(s, c.insecure) {
		nopts = append(nopts, name.Insecure)
	}
	reg, err := name.NewRegistry(s, nopts...)
	if err != nil {
		return name.Registry{}, fmt.Errorf("parse registry %q: %w", s, err)
	}
	return reg, nil
}

// DockerConfigFile returns the Docker client config file:
// $DOCKER_CONFIG/config.json, else ~/.docker/config.json.
func DockerConfigFile(getenv func(string) string) (string, error) {
	if d := getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json"), nil
	}
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("find docker config: %w", err)
		}
		home = h
	}
	return filepath.Join(home, ".docker", "config.json"), nil
}

// authKey is the key Docker uses for a registry in config.json.
func authKey(registry string) (string, error) {
	reg, err := (&config{}).registry(registry)
	if err != nil {
		return "", err
	}
	if reg.RegistryStr() == name.DefaultRegistry {
		return authn.DefaultAuthKey, nil
	}
	return reg.RegistryStr(), nil
}

// SaveLogin records credentials for registry in the Docker config file
// like `docker login`: through the credential helper named by credHelpers
// or credsStore when set (leaving an empty auths entry), else base64 in
// auths. Other entries and unknown fields are kept; the file is replaced
// atomically and has mode 0600.
func SaveLogin(configFile, registry, username, password string) error {
	key, err := authKey(registry)
	if err != nil {
		return err
	}
	doc, auths, err := readDockerConfig(configFile)
	if err != nil {
		return err
	}
	entry := map[string]string{}
	if helper := credHelper(doc, key); helper != "" {
		creds := &credentials.Credentials{ServerURL: key, Username: username, Secret: password}
		if err := client.Store(helperProgram(helper), creds); err != nil {
			return fmt.Errorf("store credentials in docker-credential-%s: %w", helper, err)
		}
	} else {
		entry["auth"] = base64.StdEncoding.EncodeToString([]byte(username + ":" + password))
	}
	raw, err := json.Marshal(entry)
	if err != nil {
		return fmt.Errorf("encode docker config: %w", err)
	}
	auths[key] = raw
	return writeDockerConfig(configFile, doc, auths)
}

// RemoveLogin deletes the credentials for registry from the Docker config
// file (and its credential helper). It reports whether there were any.
func RemoveLogin(configFile, registry string) (bool, error) {
	key, err := authKey(registry)
	if err != nil {
		return false, err
	}
	doc, auths, err := readDockerConfig(configFile)
	if err != nil {
		return false, err
	}
	_, found := auths[key]
	if helper := credHelper(doc, key); helper != "" {
		err := client.Erase(helperProgram(helper), key)
		if err != nil && !credentials.IsErrCredentialsNotFoundMessage(err.Error()) {
			return found, fmt.Errorf("erase credentials in docker-credential-%s: %w", helper, err)
		}
		if err == nil {
			found = true
		}
	}
	if _, ok := auths[key]; !ok {
		return found, nil
	}
	delete(auths, key)
	return found, writeDockerConfig(configFile, doc, auths)
}

func helperProgram(helper string) client.ProgramFunc {
	return client.NewShellProgramFunc("docker-credential-" + helper)
}

// credHelper returns the credential helper for key, "" for the file.
func credHelper(doc map[string]json.RawMessage, key string) string {
	var helpers map[string]string
	if raw, ok := doc["credHelpers"]; ok && json.Unmarshal(raw, &helpers) == nil {
		if h := helpers[key]; h != "" {
			return h
		}
	}
	var store string
	if raw, ok := doc["credsStore"]; ok && json.Unmarshal(raw, &store) == nil {
		return store
	}
	return ""
}

// readDockerConfig reads the config as raw fields plus its auths; a
// missing file is an empty config.
func readDockerConfig(file string) (map[string]json.RawMessage, map[string]json.RawMessage, error) {
	doc := map[string]json.RawMessage{}
	auths := map[string]json.RawMessage{}
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return doc, auths, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read docker config: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return doc, auths, nil
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, nil, fmt.Errorf("read docker config %s: %w", file, err)
	}
	if raw, ok := doc["auths"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &auths); err != nil {
			return nil, nil, fmt.Errorf("read docker config %s: auths: %w", file, err)
		}
	}
	return doc, auths, nil
}

// writeDockerConfig writes doc with auths to file atomically, mode 0600.
func writeDockerConfig(file string, doc, auths map[string]json.RawMessage) error {
	rawAuths, err := json.Marshal(auths)
	if err != nil {
		return fmt.Errorf("encode docker config: %w", err)
	}
	doc["auths"] = rawAuths
	data, err := json.MarshalIndent(doc, "", "\t")
	if err != nil {
		return fmt.Errorf("encode docker config: %w", err)
	}
	dir := filepath.Dir(file)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("write docker config: %w", err)
	}
	f, err := os.CreateTemp(dir, filepath.Base(file)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write docker config: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	_, err = io.Copy(f, bytes.NewReader(append(data, '\n')))
	if err == nil {
		err = f.Chmod(0o600)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, file)
	}
	if err != nil {
		return fmt.Errorf("write docker config %s: %w", file, err)
	}
	return nil
}
