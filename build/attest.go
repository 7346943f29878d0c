package build

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/exporter"
	"github.com/builderdev/builder/internal/attest"
	"github.com/builderdev/builder/parser"
	"github.com/builderdev/builder/solver"
)

// Attest says which in-toto attestations exporters that can carry them
// (registry pushes and OCI tars, exporter.AttestingExporter) attach to
// the image; a multi-platform build gets them for each platform.
type Attest struct {
	// Provenance, if set, adds SLSA provenance.
	Provenance *attest.ProvenanceOptions
	// SBOM adds an SPDX SBOM of the image's packages.
	SBOM bool
	// DockerfilePath and Dockerfile are the Dockerfile's name and text,
	// recorded by provenance with mode=max.
	DockerfilePath string
	Dockerfile     []byte
	// Name names the SBOM document; "" takes the first tag, else "image".
	Name string
}

func (a Attest) any() bool { return a.Provenance != nil || a.SBOM }

// WithAttestations attaches attestations to the images that pushes and
// OCI tars write.
func WithAttestations(a Attest) Option { return func(c *config) { c.attest = a } }

// attestations makes the predicates of a finished build's image: res is
// the result of a single-platform build or one platform's of a
// multi-platform build.
func attestations(ctx context.Context, a Attest, req *solver.Request, res *solver.Result, tmpDir string, started time.Time, info func(string)) ([]attest.Predicate, error) {
	var out []attest.Predicate
	platform := platformString(res.Config.OS, res.Config.Architecture, res.Config.Variant)
	if a.Provenance != nil {
		opts := *a.Provenance
		if opts.Mode == "" {
			opts.Mode = attest.ModeMin
		}
		in := attest.ProvenanceInput{
			Options: opts, Args: req.BuildArgs, Labels: req.Labels, Target: req.Target,
			Platform: platform, BuilderPlatform: hostPlatform(),
			DockerfilePath: a.DockerfilePath, Dockerfile: a.Dockerfile,
			InvocationID: invocationID(), Started: started, Finished: time.Now(),
			Hermetic: !usesRun(req.Dockerfile),
		}
		for id := range req.Secrets {
			in.SecretIDs = append(in.SecretIDs, id)
		}
		sort.Strings(in.SecretIDs)
		for _, b := range res.BaseImages {
			in.Materials = append(in.Materials, attest.ImageMaterial(b.Ref, platformString(b.Platform.OS, b.Platform.Architecture, b.Platform.Variant), b.Digest.String()))
		}
		vcs, err := attest.GitVCS(ctx, req.ContextDir)
		if err != nil {
			info(fmt.Sprintf("warning: provenance: %v", err))
		}
		in.VCS = vcs
		if opts.Mode == attest.ModeMax {
			in.Steps = steps(req.Dockerfile)
		}
		p, err := attest.Provenance(in)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
		info(fmt.Sprintf("attestations: SLSA provenance %s, mode=%s", p.Type, in.Options.Mode))
	}
	if a.SBOM {
		pkgs, err := attest.Scan(ctx, res.Image, tmpDir)
		if err != nil {
			return nil, err
		}
		created := time.Now()
		if req.SourceDateEpoch != nil {
			created = *req.SourceDateEpoch
		}
		p, err := attest.SBOM(pkgs, attest.SBOMOptions{Name: a.Name, Created: created})
		if err != nil {
			return nil, err
		}
		out = append(out, p)
		info(fmt.Sprintf("attestations: SPDX SBOM of %d packages", len(pkgs)))
	}
	return out, nil
}

// steps lists every instruction of df, FROM lines included, for
// provenance with mode=max.
func steps(df *parser.Dockerfile) []attest.Step {
	var out []attest.Step
	add := func(stage string, in parser.Instruction) {
		l := in.Location()
		out = append(out, attest.Step{ID: fmt.Sprintf("step%d", len(out)), Stage: stage, File: l.File, Line: l.Start, EndLine: l.End, Original: in.Original()})
	}
	for _, a := range df.MetaArgs {
		add("", a)
	}
	for _, st := range df.Stages {
		name := st.Name
		if name == "" {
			name = fmt.Sprintf("stage-%d", st.Index)
		}
		if st.From != nil {
			add(name, st.From)
		}
		for _, in := range st.Instructions {
			add(name, in)
		}
	}
	return out
}

func platformString(os, arch, variant string) string {
	s := os + "/" + arch
	if variant != "" {
		s += "/" + variant
	}
	return s
}

func hostPlatform() string {
	p, err := solver.ParsePlatform("")
	if err != nil {
		return ""
	}
	return platformString(p.OS, p.Architecture, p.Variant)
}

func invocationID() string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		return ""
	}
	return hex.EncodeToString(b)
}

// export runs e on img, with the attestations if e can carry them.
func export(ctx context.Context, e exporter.Exporter, img v1.Image, preds []attest.Predicate, platform v1.Platform) (exporter.Result, bool, error) {
	if ae, ok := e.(exporter.AttestingExporter); ok && len(preds) > 0 {
		r, err := ae.ExportAttested(ctx, img, exporter.Attestations{Predicates: preds, Platform: platform})
		return r, true, err
	}
	r, err := e.Export(ctx, img)
	return r, false, err
}

// attesting says whether any of exps can carry attestations.
func attesting(exps []exporter.Exporter) bool {
	for _, e := range exps {
		if _, ok := e.(exporter.AttestingExporter); ok {
			return true
		}
	}
	return false
}
