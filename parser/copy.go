package parser

import (
	"fmt"
	"strings"

	bkparser "github.com/moby/buildkit/frontend/dockerfile/parser"
)

func parseCopy(req request) (Instruction, error) {
	isAdd := req.cmd == "add"
	name := "COPY"
	spec := map[string]flagKind{"chown": flagString, "chmod": flagString, "link": flagBool, "exclude": flagStrings}
	if isAdd {
		name = "ADD"
		spec["keep-git-dir"] = flagBool
		spec["checksum"] = flagString
		spec["unpack"] = flagBool
	} else {
		spec["from"] = flagString
		spec["parents"] = flagBool
	}
	if len(req.args) < 2 {
		return nil, fmt.Errorf("%s requires at least two arguments, but only one was provided. Destination could not be determined", name)
	}
	f := newFlagSet(spec)
	if err := f.parse(req.flags); err != nil {
		return nil, err
	}
	c := &Copy{
		Base:       req.base,
		Add:        isAdd,
		Dest:       req.args[len(req.args)-1],
		From:       f.str["from"],
		Chown:      f.str["chown"],
		Chmod:      f.str["chmod"],
		Link:       f.boolVal["link"],
		Parents:    f.boolVal["parents"],
		Excludes:   f.strs["exclude"],
		Checksum:   f.str["checksum"],
		KeepGitDir: f.boolVal["keep-git-dir"],
	}
	if f.used["unpack"] {
		v := f.boolVal["unpack"]
		c.Unpack = &v
	}
	if bkparser.MustParseHeredoc(c.Dest) != nil {
		return nil, fmt.Errorf("%s cannot accept a heredoc as a destination", name)
	}
	byName := map[string]bkparser.Heredoc{}
	for _, h := range req.heredocs {
		byName[h.Name] = h
	}
	for _, src := range req.args[:len(req.args)-1] {
		if h := bkparser.MustParseHeredoc(src); h != nil {
			body := byName[h.Name]
			body.Chomp, body.Expand = h.Chomp, h.Expand
			c.Heredocs = append(c.Heredocs, toHeredoc(body))
			continue
		}
		c.Sources = append(c.Sources, src)
	}
	if c.From != "" && hasVariable(c.From) {
		return nil, fmt.Errorf("variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround")
	}
	if err := checkCopyValues(c); err != nil {
		return nil, err
	}
	return c, nil
}

// checkCopyValues validates what can be checked before expansion; values
// with variables are checked by Expand.
func checkCopyValues(c *Copy) error {
	if c.Chmod != "" && !strings.Contains(c.Chmod, "$") {
		if _, err := ParseChmod(c.Chmod); err != nil {
			return err
		}
	}
	if c.Checksum != "" {
		if len(c.Sources) != 1 || len(c.Heredocs) != 0 {
			return fmt.Errorf("checksum can't be specified for multiple sources")
		}
		// As BuildKit, before anything runs: only a download can be checked.
		if src := c.Sources[0]; !hasVariable(src) && !isRemoteSource(src) {
			return fmt.Errorf("checksum can't be specified for non-HTTP(S) sources: %s", src)
		}
	}
	return nil
}

// isRemoteSource reports an ADD source that is fetched (HTTP(S) or git),
// not read from the context.
func isRemoteSource(src string) bool {
	for _, p := range []string{"http://", "https://", "git://", "git@", "ssh://"} {
		if strings.HasPrefix(src, p) {
			return true
		}
	}
	return false
}

// hasVariable reports whether a word would change under expansion: an
// unescaped $ followed by a name or a brace.
func hasVariable(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '$':
			if i+1 < len(s) {
				c := s[i+1]
				if c == '{' || c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
					return true
				}
			}
		}
	}
	return false
}
