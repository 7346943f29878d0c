package check

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/builderdev/builder/parser"
)

// Best-practice rules about base images and the user the image runs as.

func imageRules() []Rule {
	return []Rule{
		practice("UnpinnedBaseImage", "A base image should be pinned to a version tag (and a digest), not latest", unpinnedBase),
		practice("RootUser", "The final stage should switch to a non-root USER", rootUser),
	}
}

func unpinnedBase(d *Doc) []Finding {
	if d.DF == nil {
		return nil
	}
	var out []Finding
	for i, st := range d.DF.Stages {
		ref, parent := d.baseRef(i)
		if parent >= 0 || strings.EqualFold(ref, "scratch") || ref == "" || strings.Contains(ref, "@") || d.named[ref] {
			continue
		}
		tag, err := name.NewTag(ref)
		if err != nil {
			continue
		}
		if tag.TagStr() != "latest" {
			continue
		}
		msg := fmt.Sprintf("base image %s has no tag (it means %s): the build changes whenever the tag moves", ref, tag.Name())
		if strings.HasSuffix(ref, ":latest") {
			msg = fmt.Sprintf("base image %s uses the latest tag: the build changes whenever the tag moves", ref)
		}
		f := atLoc(st.From.Loc, msg)
		repo := strings.TrimSuffix(ref, ":latest")
		fix := fmt.Sprintf("FROM %s:<version>@sha256:<digest> (a version tag, and the digest for repeatable builds; builder check --pin prints it)", repo)
		if d.Pin {
			if img := d.image(ref, d.platformOf(i)); img != nil && img.Digest != "" {
				fix = fmt.Sprintf("FROM %s@%s (the digest %s points at now)", ref, img.Digest, tag.Name())
			}
		}
		out = append(out, f.fix(fix))
	}
	return out
}

func isRoot(user string) bool {
	u, _, _ := strings.Cut(user, ":")
	return u == "" || u == "root" || u == "0"
}

// rootUser looks at the final stage (and the stages it builds on): the last
// USER decides; without one the base image's user does, when a Resolver
// knows it.
func rootUser(d *Doc) []Finding {
	if d.DF == nil || len(d.DF.Stages) == 0 {
		return nil
	}
	final := d.finalStage()
	i := final
	for depth := 0; depth <= len(d.DF.Stages); depth++ {
		st := d.DF.Stages[i]
		for j := len(st.Instructions) - 1; j >= 0; j-- {
			if u, ok := st.Instructions[j].(*parser.User); ok {
				if !isRoot(u.User) {
					return nil
				}
				return []Finding{atLoc(u.Loc, fmt.Sprintf("USER %s: the image runs as root", u.User)).
					fix("USER 1000:1000 (or a named non-root user created in the image) as the last USER")}
			}
		}
		ref, parent := d.baseRef(i)
		if parent < 0 {
			if img := d.image(ref, d.platformOf(i)); img != nil && !isRoot(img.User) {
				return nil
			}
			break
		}
		i = parent
	}
	st := d.DF.Stages[final]
	return []Finding{atLoc(st.From.Loc, "the final stage has no USER: the image runs as root").
		fix("add USER 1000:1000 (or a named non-root user created in the image) after the steps that need root")}
}
