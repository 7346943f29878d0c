package attest

import (
	"bufio"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// VCS is the git checkout a build context is in.
type VCS struct {
	Source   string // the origin remote's URL, without user information
	Revision string // the commit HEAD names
}

func (v *VCS) material() Material {
	uri := v.Source
	if uri == "" {
		uri = "git"
	}
	return Material{URI: uri, Digest: map[string]string{"sha1": v.Revision}}
}

var commitRE = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)

// GitVCS reads the git checkout dir is in (dir or a parent has .git, a
// directory or a worktree's "gitdir:" file) directly, without running
// git: HEAD, the ref it names (loose or packed) and the origin remote. It
// returns nil and no error when dir is not in a checkout.
func GitVCS(ctx context.Context, dir string) (*VCS, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("read git checkout: %w", err)
	}
	var gitDir string
	for d := abs; ; d = filepath.Dir(d) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		p := filepath.Join(d, ".git")
		if fi, err := os.Stat(p); err == nil {
			if fi.IsDir() {
				gitDir = p
			} else if gitDir, err = readGitFile(p); err != nil {
				return nil, err
			}
			break
		}
		if filepath.Dir(d) == d {
			return nil, nil
		}
	}
	// A worktree's git dir has HEAD; refs and config are in its commondir.
	common := gitDir
	if b, err := os.ReadFile(filepath.Join(gitDir, "commondir")); err == nil {
		c := strings.TrimSpace(string(b))
		if !filepath.IsAbs(c) {
			c = filepath.Join(gitDir, c)
		}
		common = c
	}
	head, err := os.ReadFile(filepath.Join(gitDir, "HEAD"))
	if err != nil {
		return nil, fmt.Errorf("read git checkout: %w", err)
	}
	rev := strings.TrimSpace(string(head))
	for i := 0; strings.HasPrefix(rev, "ref: ") && i < 5; i++ {
		ref := strings.TrimSpace(strings.TrimPrefix(rev, "ref: "))
		if rev, err = resolveRef(gitDir, common, ref); err != nil {
			return nil, err
		}
	}
	if !commitRE.MatchString(rev) {
		return nil, fmt.Errorf("read git checkout %s: HEAD is %q, not a commit", gitDir, rev)
	}
	return &VCS{Source: originURL(common), Revision: rev}, nil
}

func readGitFile(p string) (string, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("read git checkout: %w", err)
	}
	s, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir:")
	if !ok {
		return "", fmt.Errorf("read git checkout: %s has no gitdir line", p)
	}
	s = strings.TrimSpace(s)
	if !filepath.IsAbs(s) {
		s = filepath.Join(filepath.Dir(p), s)
	}
	return s, nil
}

// resolveRef reads ref (refs/heads/main) as a loose ref in gitDir or
// common, else from packed-refs. A ref with no commit yet is an error.
func resolveRef(gitDir, common, ref string) (string, error) {
	for _, d := range []string{gitDir, common} {
		if b, err := os.ReadFile(filepath.Join(d, filepath.FromSlash(ref))); err == nil {
			return strings.TrimSpace(string(b)), nil
		}
	}
	f, err := os.Open(filepath.Join(common, "packed-refs"))
	if err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			h, name, ok := strings.Cut(sc.Text(), " ")
			if ok && name == ref {
				return h, nil
			}
		}
	}
	return "", fmt.Errorf("read git checkout: ref %s has no commit", ref)
}

// originURL is the url of [remote "origin"] in the git config, with any
// user and password removed; "" if there is none.
func originURL(common string) string {
	f, err := os.Open(filepath.Join(common, "config"))
	if err != nil {
		return ""
	}
	defer f.Close()
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			in = line == `[remote "origin"]`
			continue
		}
		if k, v, ok := strings.Cut(line, "="); in && ok && strings.TrimSpace(k) == "url" {
			return redactURL(strings.TrimSpace(v))
		}
	}
	return ""
}

// redactURL drops user information from a URL: a token in
// https://user:token@host/repo never reaches an attestation.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.Scheme != "" && u.Host != "" {
		u.User = nil
		return u.String()
	}
	return s
}
