package attest

import "encoding/json"

// In-toto statement and predicate types, as BuildKit writes them.
const (
	StatementV01         = "https://in-toto.io/Statement/v0.1"
	StatementV1          = "https://in-toto.io/Statement/v1"
	PredicateSLSAv1      = "https://slsa.dev/provenance/v1"
	PredicateSLSAv02     = "https://slsa.dev/provenance/v0.2"
	PredicateSPDX        = "https://spdx.dev/Document"
	MediaTypeInToto      = "application/vnd.in-toto+json"
	AnnotationPredicate  = "in-toto.io/predicate-type"
	AnnotationRefType    = "vnd.docker.reference.type"
	AnnotationRefDigest  = "vnd.docker.reference.digest"
	RefTypeAttestation   = "attestation-manifest"
	buildKitBuildTypeV1  = "https://mobyproject.org/buildkit@v1"
	buildKitBuildTypeDef = "https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md"
)

// Predicate is one attestation's content before it gets a subject.
type Predicate struct {
	// Statement is the in-toto statement type it goes in.
	Statement string
	Type      string
	Data      json.RawMessage
}

// Subject is what a statement is about: a name and its digests.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Statement is an in-toto statement.
type Statement struct {
	Type          string          `json:"_type"`
	PredicateType string          `json:"predicateType"`
	Subject       []Subject       `json:"subject"`
	Predicate     json.RawMessage `json:"predicate"`
}

// Wrap returns the statement of p about subjects, encoded.
func Wrap(p Predicate, subjects []Subject) ([]byte, error) {
	return json.Marshal(Statement{Type: p.Statement, PredicateType: p.Type, Subject: subjects, Predicate: p.Data})
}
