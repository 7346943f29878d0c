package check

import (
	"strings"
)

// BuildKit's rules about FROM --platform and the platform of base images.

func platformRules() []Rule {
	return []Rule{
		bk(ruleInvalidBaseImagePlatform, invalidBaseImagePlatform),
		bk(ruleRedundantTargetPlatform, redundantTargetPlatform),
		bk(ruleFromPlatformFlagConstDisallowed, platformConst),
	}
}

// invalidBaseImagePlatform needs a Resolver: the image found for a FROM
// must have the OS and architecture the stage is built for.
func invalidBaseImagePlatform(d *Doc) []Finding {
	if d.DF == nil || d.Resolver == nil {
		return nil
	}
	var out []Finding
	for i, st := range d.DF.Stages {
		ref, parent := d.baseRef(i)
		if parent >= 0 || strings.EqualFold(ref, "scratch") {
			continue
		}
		want := d.platformOf(i)
		img := d.image(ref, want)
		if img == nil || img.Platform.OS == "" {
			continue
		}
		if img.Platform.OS != want.OS || img.Platform.Architecture != want.Architecture {
			out = append(out, atLoc(st.From.Loc, ruleInvalidBaseImagePlatform.Format(ref, want.String(), img.Platform.String())).
				fix("use an image (or index) that has "+want.String()+", or build with --platform "+img.Platform.String()))
		}
	}
	return out
}

func redundantTargetPlatform(d *Doc) []Finding {
	g := d.globals(true)
	if g == nil {
		return nil
	}
	lex := d.lexer()
	var out []Finding
	for _, st := range d.DF.Stages {
		p := st.From.Platform
		if p == "" {
			continue
		}
		r, err := lex.Process(p, g)
		if err != nil || len(r.Matched) != 1 || len(r.Unmatched) != 0 || r.Matched[0] != "TARGETPLATFORM" {
			continue
		}
		if v, _ := g.Get("TARGETPLATFORM"); r.Word == v {
			out = append(out, atLoc(st.From.Loc, ruleRedundantTargetPlatform.Format(p)).fix("drop --platform="+p+" from FROM"))
		}
	}
	return out
}

func platformConst(d *Doc) []Finding {
	if d.DF == nil {
		return nil
	}
	lex := d.lexer()
	var out []Finding
	for _, st := range d.DF.Stages {
		p := st.From.Platform
		if p == "" || lex.HasExpansion(p) {
			continue
		}
		w, err := lex.ProcessWord(p, nil)
		if err != nil {
			continue
		}
		pl, ok := parsePlatform(w)
		if !ok {
			continue
		}
		if strings.Contains(st.Name, pl.OS) || strings.Contains(st.Name, pl.Architecture) {
			continue
		}
		out = append(out, atLoc(st.From.Loc, ruleFromPlatformFlagConstDisallowed.Format(w)).
			fix("use --platform=$BUILDPLATFORM (or $TARGETPLATFORM), or name the stage after the platform (AS "+pl.Architecture+"-build)"))
	}
	return out
}
