package solver

import (
	"context"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/internal/imagesource"
	"github.com/builderdev/builder/parser"
)

// from resolves the stage's base: an earlier stage, a named context, the
// local store or a registry.
func (b *build) from(ctx context.Context, sr *stageRun) (*state, error) {
	idx := sr.stage.Index
	if j, ok := b.stageIndex(sr.base, idx); ok && !isNumeric(sr.base) {
		parent, err := b.waitStage(ctx, j)
		if err != nil {
			return nil, err
		}
		st := parent.clone()
		st.cmdSet = false
		return st, nil
	}
	var v *vertex
	if !strings.EqualFold(sr.base, "scratch") { // BuildKit shows no step for scratch
		v = b.newVertex(sr, "FROM "+sr.base)
		b.start(v)
	}
	img, err := b.resolveImage(ctx, sr.base, sr.platform)
	if err != nil {
		if v != nil {
			b.fail(v, err)
		}
		return nil, err
	}
	if v != nil {
		b.doneVertex(v, false)
	}
	cfg := img.Config.DeepCopy()
	cfg.Created = v1.Time{}
	cfg.Container, cfg.DockerVersion = "", ""
	if cfg.OS == "" {
		cfg.OS = sr.platform.OS
	}
	if cfg.Architecture == "" {
		cfg.Architecture = sr.platform.Architecture
		cfg.Variant = sr.platform.Variant
	}
	if cfg.RootFS.Type == "" {
		cfg.RootFS.Type = "layers"
	}
	if !hasEnv(cfg.Config.Env, "PATH") {
		cfg.Config.Env = append([]string{"PATH=" + defaultPath}, cfg.Config.Env...)
	}
	st := &state{cfg: cfg, layers: img.Layers, onbuild: cfg.Config.OnBuild, time: img.Config.Created.Time, baseHistory: len(cfg.History), platform: sr.platform}
	cfg.Config.OnBuild = nil
	st.key = keyOf(map[string]any{"from": img.Digest.String(), "ref": canonicalRef(img), "platform": sr.platform.String()})
	return st, nil
}

func canonicalRef(img *imagesource.Image) string {
	if img.Digest == (v1.Hash{}) {
		return "scratch"
	}
	return ""
}

// parseTriggers turns a base image's ONBUILD triggers into instructions.
func parseTriggers(file string, triggers []string) ([]parser.Instruction, error) {
	df, err := parser.Parse(strings.NewReader("FROM scratch\n"+strings.Join(triggers, "\n")+"\n"), parser.WithName(file+" (ONBUILD)"))
	if err != nil {
		return nil, fmt.Errorf("parse ONBUILD triggers: %w", err)
	}
	return df.Stages[0].Instructions, nil
}
