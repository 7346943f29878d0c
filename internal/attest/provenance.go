package attest

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// Provenance modes and versions (--provenance=mode=...,version=...).
const (
	ModeMin = "min"
	ModeMax = "max"
	V1      = "v1"
	V02     = "v0.2"
)

// ProvenanceOptions is what --provenance asks for.
type ProvenanceOptions struct {
	Mode      string // ModeMin (default) or ModeMax
	Version   string // V1 (default) or V02
	BuilderID string
}

// ParseProvenance reads a --provenance value: "true", "false", "min",
// "max", or comma-separated mode=, version= and builder-id= keys, as
// buildx takes them. off is true for "false" and "disabled=true".
func ParseProvenance(v string) (opts ProvenanceOptions, off bool, err error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "true", "1":
		return ProvenanceOptions{Mode: ModeMin, Version: V1}, false, nil
	case "false", "0":
		return ProvenanceOptions{}, true, nil
	case ModeMin, ModeMax:
		return ProvenanceOptions{Mode: strings.ToLower(v), Version: V1}, false, nil
	}
	opts = ProvenanceOptions{Mode: ModeMin, Version: V1}
	for _, kv := range strings.Split(v, ",") {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			return opts, false, fmt.Errorf("invalid --provenance %q: %q is not key=value", v, kv)
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "mode":
			if val != ModeMin && val != ModeMax {
				return opts, false, fmt.Errorf("invalid --provenance %q: mode must be min or max", v)
			}
			opts.Mode = val
		case "version":
			if val != V1 && val != V02 {
				return opts, false, fmt.Errorf("invalid --provenance %q: version must be v1 or v0.2", v)
			}
			opts.Version = val
		case "builder-id":
			opts.BuilderID = val
		case "disabled":
			if val == "true" {
				return ProvenanceOptions{}, true, nil
			}
		default:
			return opts, false, fmt.Errorf("invalid --provenance %q: unknown key %q (mode, version, builder-id)", v, k)
		}
	}
	return opts, false, nil
}

// Material is one resolved input of the build: a base image by digest, or
// the context's git commit.
type Material struct {
	URI    string            `json:"uri"`
	Digest map[string]string `json:"digest"`
}

// ImageMaterial is a base image as BuildKit names it (see DockerPURL),
// with its manifest digest.
func ImageMaterial(ref, platform, digest string) Material {
	alg, hex, ok := strings.Cut(digest, ":")
	if !ok {
		alg, hex = "sha256", digest
	}
	return Material{URI: DockerPURL(ref, platform), Digest: map[string]string{alg: hex}}
}

// DockerPURL is the package URL of an image reference, as BuildKit
// writes subjects and materials: pkg:docker/NAME@TAG?platform=OS%2FARCH,
// NAME in its familiar form (alpine, not docker.io/library/alpine).
func DockerPURL(ref, platform string) string {
	s := ref
	if r, err := name.ParseReference(ref); err == nil {
		reg, repo := r.Context().RegistryStr(), r.Context().RepositoryStr()
		if reg == name.DefaultRegistry {
			s = strings.TrimPrefix(repo, "library/")
		} else {
			s = reg + "/" + repo
		}
		switch r := r.(type) {
		case name.Tag:
			s += "@" + r.TagStr()
		case name.Digest:
			s += "@" + r.DigestStr()
		}
	}
	uri := "pkg:docker/" + s
	if platform != "" {
		uri += "?platform=" + url.QueryEscape(platform)
	}
	return uri
}

// Step is one Dockerfile instruction of the build (mode=max).
type Step struct {
	ID       string `json:"id"`
	Stage    string `json:"stage,omitempty"`
	File     string `json:"file"`
	Line     int    `json:"line"`
	EndLine  int    `json:"endLine"`
	Original string `json:"original"`
}

// ProvenanceInput is what the build knows about itself.
type ProvenanceInput struct {
	Options ProvenanceOptions
	// Args are the --build-arg values (recorded with mode=max only).
	Args map[string]string
	// Labels are the --label values (mode=max only).
	Labels map[string]string
	Target string
	// SecretIDs are the IDs of --secret (mode=max only); never values.
	SecretIDs       []string
	Platform        string // the image's platform
	BuilderPlatform string
	DockerfilePath  string
	Dockerfile      []byte // the Dockerfile's text (mode=max only)
	Steps           []Step // mode=max only
	Materials       []Material
	VCS             *VCS // the context's git checkout, if it is one
	InvocationID    string
	Started         time.Time
	Finished        time.Time
	Hermetic        bool // no RUN had network access
}

// Provenance returns the SLSA provenance predicate of the build.
func Provenance(in ProvenanceInput) (Predicate, error) {
	o := in.Options
	if o.Mode == "" {
		o.Mode = ModeMin
	}
	max := o.Mode == ModeMax
	req := request{Frontend: "dockerfile.v0", Args: map[string]string{}, Locals: []local{{Name: "context"}, {Name: "dockerfile"}}}
	if in.Target != "" {
		req.Args["target"] = in.Target
	}
	if in.DockerfilePath != "" {
		req.Args["filename"] = in.DockerfilePath
	}
	if max {
		for k, v := range in.Args {
			req.Args["build-arg:"+k] = v
		}
		for k, v := range in.Labels {
			req.Args["label:"+k] = v
		}
		ids := append([]string(nil), in.SecretIDs...)
		sort.Strings(ids)
		for _, id := range ids {
			req.Secrets = append(req.Secrets, secret{ID: id})
		}
	}
	if req.Secrets == nil {
		req.Secrets = []secret{}
	}
	materials := append([]Material{}, in.Materials...)
	var meta bkMetadata
	if in.VCS != nil {
		meta.VCS = map[string]string{"source": in.VCS.Source, "revision": in.VCS.Revision}
		materials = append(materials, in.VCS.material())
	}
	var cfg *buildConfig
	if max {
		name := in.DockerfilePath
		if name == "" {
			name = "Dockerfile"
		}
		meta.Source = &source{Infos: []sourceInfo{{Filename: name, Language: "Dockerfile", Data: base64.StdEncoding.EncodeToString(in.Dockerfile)}}}
		cfg = &buildConfig{Steps: in.Steps}
	}
	configSource := map[string]any{"path": orDefault(in.DockerfilePath, "Dockerfile")}
	var data any
	var stmt, typ string
	switch o.Version {
	case "", V1:
		stmt, typ = StatementV1, PredicateSLSAv1
		data = slsaV1{
			BuildDefinition: buildDefinition{
				BuildType:            buildKitBuildTypeDef,
				ExternalParameters:   externalParameters{ConfigSource: configSource, Request: req},
				InternalParameters:   internalParameters{BuildConfig: cfg, BuilderPlatform: in.BuilderPlatform, TargetPlatform: in.Platform},
				ResolvedDependencies: materials,
			},
			RunDetails: runDetails{
				Builder: builder{ID: o.BuilderID},
				Metadata: runMetadata{
					InvocationID: in.InvocationID, StartedOn: stamp(in.Started), FinishedOn: stamp(in.Finished),
					Completeness: map[string]bool{"request": max, "resolvedDependencies": false},
					Hermetic:     in.Hermetic, Metadata: meta,
				},
			},
		}
	case V02:
		stmt, typ = StatementV01, PredicateSLSAv02
		configSource["entryPoint"] = configSource["path"]
		delete(configSource, "path")
		data = slsaV02{
			Builder:   builder{ID: o.BuilderID},
			BuildType: buildKitBuildTypeV1,
			Materials: materials,
			Invocation: invocation{
				ConfigSource: configSource, Parameters: req,
				Environment: map[string]string{"platform": in.Platform},
			},
			BuildConfig: cfg,
			Metadata: v02Metadata{
				InvocationID: in.InvocationID, StartedOn: stamp(in.Started), FinishedOn: stamp(in.Finished),
				Completeness: map[string]bool{"parameters": max, "environment": true, "materials": false},
				Hermetic:     in.Hermetic, Metadata: meta,
			},
		}
	default:
		return Predicate{}, fmt.Errorf("make provenance: unknown version %q", o.Version)
	}
	b, err := json.Marshal(data)
	if err != nil {
		return Predicate{}, fmt.Errorf("make provenance: %w", err)
	}
	return Predicate{Statement: stmt, Type: typ, Data: b}, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

type request struct {
	Frontend string            `json:"frontend"`
	Args     map[string]string `json:"args"`
	Secrets  []secret          `json:"secrets"`
	Locals   []local           `json:"locals"`
}

type secret struct {
	ID string `json:"id"`
}

type local struct {
	Name string `json:"name"`
}

type buildConfig struct {
	Steps []Step `json:"steps"`
}

type source struct {
	Infos []sourceInfo `json:"infos"`
}

type sourceInfo struct {
	Filename string `json:"filename"`
	Language string `json:"language"`
	Data     string `json:"data"`
}

type bkMetadata struct {
	VCS    map[string]string `json:"vcs,omitempty"`
	Source *source           `json:"source,omitempty"`
}

type builder struct {
	ID string `json:"id"`
}

type slsaV1 struct {
	BuildDefinition buildDefinition `json:"buildDefinition"`
	RunDetails      runDetails      `json:"runDetails"`
}

type buildDefinition struct {
	BuildType            string             `json:"buildType"`
	ExternalParameters   externalParameters `json:"externalParameters"`
	InternalParameters   internalParameters `json:"internalParameters"`
	ResolvedDependencies []Material         `json:"resolvedDependencies"`
}

type externalParameters struct {
	ConfigSource map[string]any `json:"configSource"`
	Request      request        `json:"request"`
}

type internalParameters struct {
	BuildConfig     *buildConfig `json:"buildConfig,omitempty"`
	BuilderPlatform string       `json:"builderPlatform"`
	TargetPlatform  string       `json:"targetPlatform,omitempty"`
}

type runDetails struct {
	Builder  builder     `json:"builder"`
	Metadata runMetadata `json:"metadata"`
}

type runMetadata struct {
	InvocationID string          `json:"invocationID,omitempty"`
	StartedOn    string          `json:"startedOn,omitempty"`
	FinishedOn   string          `json:"finishedOn,omitempty"`
	Completeness map[string]bool `json:"buildkit_completeness"`
	Hermetic     bool            `json:"buildkit_hermetic"`
	Reproducible bool            `json:"buildkit_reproducible"`
	Metadata     bkMetadata      `json:"buildkit_metadata"`
}

type slsaV02 struct {
	Builder     builder      `json:"builder"`
	BuildType   string       `json:"buildType"`
	Materials   []Material   `json:"materials"`
	Invocation  invocation   `json:"invocation"`
	BuildConfig *buildConfig `json:"buildConfig,omitempty"`
	Metadata    v02Metadata  `json:"metadata"`
}

type invocation struct {
	ConfigSource map[string]any    `json:"configSource"`
	Parameters   request           `json:"parameters"`
	Environment  map[string]string `json:"environment"`
}

type v02Metadata struct {
	InvocationID string          `json:"buildInvocationID,omitempty"`
	StartedOn    string          `json:"buildStartedOn,omitempty"`
	FinishedOn   string          `json:"buildFinishedOn,omitempty"`
	Completeness map[string]bool `json:"completeness"`
	Reproducible bool            `json:"reproducible"`
	Hermetic     bool            `json:"https://mobyproject.org/buildkit@v1#hermetic"`
	Metadata     bkMetadata      `json:"https://mobyproject.org/buildkit@v1#metadata"`
}
