package check

import (
	"encoding/json"
	"fmt"
	"io"
)

// SARIF 2.1.0, the subset GitHub code scanning reads: one run, the rules
// that ran as the driver's rules, one result per finding with its region.

const (
	sarifVersion = "2.1.0"
	sarifSchema  = "https://json.schemastore.org/sarif-2.1.0.json"
)

type sarifLog struct {
	Version string     `json:"version"`
	Schema  string     `json:"$schema"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri"`
	Version        string      `json:"version,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifRule struct {
	ID               string        `json:"id"`
	Name             string        `json:"name"`
	ShortDescription sarifText     `json:"shortDescription"`
	HelpURI          string        `json:"helpUri,omitempty"`
	Default          sarifDefault  `json:"defaultConfiguration"`
	Properties       sarifRuleProp `json:"properties"`
}

type sarifDefault struct {
	Level string `json:"level"`
}

type sarifRuleProp struct {
	Tags []string `json:"tags"`
}

type sarifResult struct {
	RuleID     string          `json:"ruleId"`
	RuleIndex  int             `json:"ruleIndex"`
	Level      string          `json:"level"`
	Message    sarifText       `json:"message"`
	Locations  []sarifLocation `json:"locations"`
	Properties map[string]any  `json:"properties,omitempty"`
}

type sarifLocation struct {
	Physical sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	Artifact sarifArtifact `json:"artifactLocation"`
	Region   sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine int `json:"startLine"`
	EndLine   int `json:"endLine"`
}

// WriteSARIF writes the report as a SARIF 2.1.0 log. uri names the
// Dockerfile in results (relative to the repository root for code
// scanning); "" uses the report's file name. version is the tool version.
func WriteSARIF(w io.Writer, r *Report, uri, version string) error {
	if uri == "" {
		uri = r.File
	}
	drv := sarifDriver{Name: "builder check", InformationURI: docsBase, Version: version, Rules: []sarifRule{}}
	index := map[string]int{}
	for _, rule := range r.Rules {
		tag := "best-practice"
		if rule.BuildKit {
			tag = "buildkit"
		}
		index[rule.Name] = len(drv.Rules)
		drv.Rules = append(drv.Rules, sarifRule{
			ID: rule.Name, Name: rule.Name, ShortDescription: sarifText{rule.Description},
			HelpURI: rule.URL, Default: sarifDefault{Level: "warning"}, Properties: sarifRuleProp{Tags: []string{tag}},
		})
	}
	run := sarifRun{Tool: sarifTool{Driver: drv}, Results: []sarifResult{}}
	for _, f := range r.Findings {
		msg := f.Message
		if f.Fix != "" {
			msg += "\nFix: " + f.Fix
		}
		res := sarifResult{
			RuleID: f.Rule, RuleIndex: index[f.Rule], Level: string(f.Level), Message: sarifText{msg},
			Locations: []sarifLocation{{Physical: sarifPhysical{
				Artifact: sarifArtifact{URI: uri},
				Region:   sarifRegion{StartLine: max(f.Line, 1), EndLine: max(f.EndLine, f.Line, 1)},
			}}},
		}
		if f.Fix != "" || f.Bytes > 0 {
			res.Properties = map[string]any{}
			if f.Fix != "" {
				res.Properties["fix"] = f.Fix
			}
			if f.Bytes > 0 {
				res.Properties["bytes"] = f.Bytes
			}
		}
		run.Results = append(run.Results, res)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(sarifLog{Version: sarifVersion, Schema: sarifSchema, Runs: []sarifRun{run}}); err != nil {
		return fmt.Errorf("write sarif report: %w", err)
	}
	return nil
}
