package check

import (
	"fmt"
	"strings"
)

// BuildKit's build checks as data: the names, descriptions, documentation
// URLs and message texts of frontend/dockerfile/linter (BuildKit v0.34),
// written out here because only buildkit's syntax parser may be imported.

type bkRule struct {
	Name         string
	Description  string
	URL          string
	Experimental bool
	format       func(a []string) string
}

// Format renders the rule's message from its arguments.
func (r bkRule) Format(a ...string) string { return r.format(a) }

const bkDocs = "https://docs.docker.com/go/dockerfile/rule/"

func didYouMean(s, prefix string) string {
	if s == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %s%s?)", prefix, s)
}

var (
	ruleStageNameCasing = bkRule{"StageNameCasing", "Stage names should be lowercase", bkDocs + "stage-name-casing/", false,
		func(a []string) string { return fmt.Sprintf("Stage name '%s' should be lowercase", a[0]) }}
	ruleFromAsCasing = bkRule{"FromAsCasing", "The 'as' keyword should match the case of the 'from' keyword", bkDocs + "from-as-casing/", false,
		func(a []string) string { return fmt.Sprintf("'%s' and '%s' keywords' casing do not match", a[1], a[0]) }}
	ruleNoEmptyContinuation = bkRule{"NoEmptyContinuation", "Empty continuation lines will become errors in a future release", bkDocs + "no-empty-continuation/", false,
		func([]string) string { return "Empty continuation line" }}
	ruleConsistentInstructionCasing = bkRule{"ConsistentInstructionCasing", "All commands within the Dockerfile should use the same casing (either upper or lower)", bkDocs + "consistent-instruction-casing/", false,
		func(a []string) string {
			return fmt.Sprintf("Command '%s' should match the case of the command majority (%s)", a[0], a[1])
		}}
	ruleDuplicateStageName = bkRule{"DuplicateStageName", "Stage names should be unique", bkDocs + "duplicate-stage-name/", false,
		func(a []string) string {
			return fmt.Sprintf("Duplicate stage name %q, stage names should be unique", a[0])
		}}
	ruleReservedStageName = bkRule{"ReservedStageName", "Reserved words should not be used as stage names", bkDocs + "reserved-stage-name/", false,
		func(a []string) string {
			return fmt.Sprintf("Stage name should not use the same name as reserved stage %q", a[0])
		}}
	ruleJSONArgsRecommended = bkRule{"JSONArgsRecommended", "JSON arguments recommended for ENTRYPOINT/CMD to prevent unintended behavior related to OS signals", bkDocs + "json-args-recommended/", false,
		func(a []string) string {
			return fmt.Sprintf("JSON arguments recommended for %s to prevent unintended behavior related to OS signals", a[0])
		}}
	ruleMaintainerDeprecated = bkRule{"MaintainerDeprecated", "The MAINTAINER instruction is deprecated, use a label instead to define an image author", bkDocs + "maintainer-deprecated/", false,
		func([]string) string { return "Maintainer instruction is deprecated in favor of using label" }}
	ruleUndefinedArgInFrom = bkRule{"UndefinedArgInFrom", "FROM command must use declared ARGs", bkDocs + "undefined-arg-in-from/", false,
		func(a []string) string {
			return fmt.Sprintf("FROM argument '%s' is not declared", a[0]) + didYouMean(a[1], "")
		}}
	ruleWorkdirRelativePath = bkRule{"WorkdirRelativePath", "Relative workdir without an absolute workdir declared within the build can have unexpected results if the base image changes", bkDocs + "workdir-relative-path/", false,
		func(a []string) string {
			return fmt.Sprintf("Relative workdir %q can have unexpected results if the base image changes", a[0])
		}}
	ruleUndefinedVar = bkRule{"UndefinedVar", "Variables should be defined before their use", bkDocs + "undefined-var/", false,
		func(a []string) string {
			return fmt.Sprintf("Usage of undefined variable '$%s'", a[0]) + didYouMean(a[1], "$")
		}}
	ruleMultipleInstructionsDisallowed = bkRule{"MultipleInstructionsDisallowed", "Multiple instructions of the same type should not be used in the same stage", bkDocs + "multiple-instructions-disallowed/", false,
		func(a []string) string {
			return fmt.Sprintf("Multiple %s instructions should not be used in the same stage because only the last one will be used", a[0])
		}}
	ruleLegacyKeyValueFormat = bkRule{"LegacyKeyValueFormat", "Legacy key/value format with whitespace separator should not be used", bkDocs + "legacy-key-value-format/", false,
		func(a []string) string {
			return fmt.Sprintf("\"%s key=value\" should be used instead of legacy \"%s key value\" format", a[0], a[0])
		}}
	ruleInvalidBaseImagePlatform = bkRule{"InvalidBaseImagePlatform", "Base image platform does not match expected target platform", bkDocs + "invalid-base-image-platform/", false,
		func(a []string) string {
			return fmt.Sprintf("Base image %s was pulled with platform %q, expected %q for current build", a[0], a[2], a[1])
		}}
	ruleRedundantTargetPlatform = bkRule{"RedundantTargetPlatform", "Setting platform to predefined $TARGETPLATFORM in FROM is redundant as this is the default behavior", bkDocs + "redundant-target-platform/", false,
		func(a []string) string {
			return fmt.Sprintf("Setting platform to predefined %s in FROM is redundant as this is the default behavior", a[0])
		}}
	ruleSecretsUsedInArgOrEnv = bkRule{"SecretsUsedInArgOrEnv", "Sensitive data should not be used in the ARG or ENV commands", bkDocs + "secrets-used-in-arg-or-env/", false,
		func(a []string) string {
			return fmt.Sprintf("Do not use ARG or ENV instructions for sensitive data (%s %q)", a[0], a[1])
		}}
	ruleInvalidDefaultArgInFrom = bkRule{"InvalidDefaultArgInFrom", "Default value for global ARG results in an empty or invalid base image name", bkDocs + "invalid-default-arg-in-from/", false,
		func(a []string) string {
			return fmt.Sprintf("Default value for ARG %v results in empty or invalid base image name", a[0])
		}}
	ruleFromPlatformFlagConstDisallowed = bkRule{"FromPlatformFlagConstDisallowed", "FROM --platform flag should not use a constant value", bkDocs + "from-platform-flag-const-disallowed/", false,
		func(a []string) string {
			return fmt.Sprintf("FROM --platform flag should not use constant value %q", a[0])
		}}
	ruleCopyIgnoredFile = bkRule{"CopyIgnoredFile", "Attempting to Copy file that is excluded by .dockerignore", bkDocs + "copy-ignored-file/", false,
		func(a []string) string {
			return fmt.Sprintf("Attempting to %s file %q that is excluded by .dockerignore", a[0], a[1])
		}}
	ruleInvalidDefinitionDescription = bkRule{"InvalidDefinitionDescription", "Comment for build stage or argument should follow the format: `# <arg/stage name> <description>`. If this is not intended to be a description comment, add an empty line or comment between the instruction and the comment.", bkDocs + "invalid-definition-description/", true,
		func(a []string) string {
			return fmt.Sprintf("Comment for %s should follow the format: `# %s <description>`", a[0], a[1])
		}}
	ruleExposeProtoCasing = bkRule{"ExposeProtoCasing", "Protocol in EXPOSE instruction should be lowercase", bkDocs + "expose-proto-casing/", false,
		func(a []string) string {
			return fmt.Sprintf("Defined protocol '%s' in EXPOSE instruction should be lowercase", a[0])
		}}
	ruleExposeInvalidFormat = bkRule{"ExposeInvalidFormat", "IP address and host-port mapping should not be used in EXPOSE instruction. This will become an error in a future release", bkDocs + "expose-invalid-format/", false,
		func(a []string) string {
			return fmt.Sprintf("EXPOSE instruction should not define an IP address or host-port mapping, found '%s'", a[0])
		}}
)

// checkConfig is the "# check=" directive: skip=A,B|all; error=true;
// experimental=A|all (BuildKit's syntax).
type checkConfig struct {
	SkipAll, ExperimentalAll, ReturnAsError bool
	SkipRules, ExperimentalRules            []string
}

func parseCheckOptions(s string) (*checkConfig, error) {
	c := &checkConfig{}
	s = strings.TrimSpace(s)
	if s == "" {
		return c, nil
	}
	for _, p := range strings.SplitN(s, ";", 3) {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return nil, fmt.Errorf("invalid check option %q", p)
		}
		v = strings.TrimSpace(v)
		list := func() (bool, []string) {
			if v == "all" {
				return true, nil
			}
			var out []string
			for _, r := range strings.Split(v, ",") {
				out = append(out, strings.TrimSpace(r))
			}
			return false, out
		}
		switch strings.TrimSpace(k) {
		case "skip":
			c.SkipAll, c.SkipRules = list()
		case "experimental":
			c.ExperimentalAll, c.ExperimentalRules = list()
		case "error":
			switch strings.ToLower(v) {
			case "1", "t", "true":
				c.ReturnAsError = true
			case "0", "f", "false":
				c.ReturnAsError = false
			default:
				return nil, fmt.Errorf("failed to parse check option %q: want true or false", p)
			}
		default:
			return nil, fmt.Errorf("invalid check option %q", strings.TrimSpace(k))
		}
	}
	return c, nil
}
