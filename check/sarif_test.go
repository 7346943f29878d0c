package check

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestSARIFValidates checks the SARIF output of a case with many findings
// against the official SARIF 2.1.0 schema (vendored in testdata).
func TestSARIFValidates(t *testing.T) {
	host, _ := testRegistry(t)
	r, _ := runCase(t, casesDir+"/PackageCacheLeft/bad", host)
	r2, _ := runCase(t, casesDir+"/ContextBloat/bad", host)
	r.Findings = append(r.Findings, r2.Findings...)
	if len(r.Findings) < 3 {
		t.Fatalf("want findings to render, got %d", len(r.Findings))
	}
	var out bytes.Buffer
	if err := WriteSARIF(&out, r, "app/Dockerfile", "test"); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open("testdata/sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft4)
	if err := c.AddResource("sarif-schema-2.1.0.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(out.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("SARIF output does not validate: %v\n%s", err, out.String())
	}
	// The schema must reject what it should: a result without a message.
	var bad map[string]any
	if err := json.Unmarshal(out.Bytes(), &bad); err != nil {
		t.Fatal(err)
	}
	res := bad["runs"].([]any)[0].(map[string]any)["results"].([]any)[0].(map[string]any)
	delete(res, "message")
	if err := sch.Validate(bad); err == nil {
		t.Error("schema accepted a result without message: validation is not effective")
	}
	if !strings.Contains(out.String(), `"uri": "app/Dockerfile"`) {
		t.Error("artifact uri missing")
	}
}
