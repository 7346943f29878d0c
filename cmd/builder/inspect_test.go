package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// inspect --size reports each layer's instruction, size and waste, the
// largest files and the totals; --format json gives the same numbers.
func TestInspectSize(t *testing.T) {
	root := t.TempDir()
	img := historyImage(t, root)
	out, err := runSub(t, inspectCommand(), root, "", "--size", "hist:1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"LAYER  SIZE    WASTED  CREATED BY\n1      2.95kB  24B     COPY rootfs/ / # buildkit\n",
		"wasted 24B: overwritten or deleted by a later layer",
		"  largest files:\n    2.93kB  /bin/tool\n       24B  /etc/conf\n",
		"layer 3/3 sha256:", ": 7B (blob ", "), 1 entry\n  COPY app /app\n",
		"3 layers, 1.43MB of files, 1.43MB in the final filesystem, 24B wasted, efficiency 100.0% (dive's score)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	out, err = runSub(t, inspectCommand(), root, "", "--size", "--format", "json", "hist:1")
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Name, Digest string
		Wasted       int64
		Efficiency   float64
		Layers       []struct {
			CreatedBy string `json:"created_by"`
			Size      int64
			Wasted    int64
			Largest   []struct {
				Path string
				Size int64
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	digest, _ := img.Digest()
	if rep.Name != "hist:1" || rep.Digest != digest.String() || rep.Wasted != 24 || rep.Efficiency != 1 || len(rep.Layers) != 3 ||
		rep.Layers[0].Size != 3024 || rep.Layers[0].Wasted != 24 || rep.Layers[2].CreatedBy != "COPY app /app" ||
		len(rep.Layers[0].Largest) != 2 || rep.Layers[0].Largest[0].Path != "/bin/tool" {
		t.Errorf("json report = %+v", rep)
	}
}

// inspect without --size prints the digests and the config.
func TestInspect(t *testing.T) {
	root := t.TempDir()
	img := historyImage(t, root)
	out, err := runSub(t, inspectCommand(), root, "", "hist:1")
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Name, Digest string
		ConfigDigest string `json:"config_digest"`
		Layers       []string
		Config       v1.ConfigFile
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	digest, _ := img.Digest()
	id, _ := img.ConfigName()
	if info.Name != "hist:1" || info.Digest != digest.String() || info.ConfigDigest != id.String() || len(info.Layers) != 3 || len(info.Config.History) != 4 {
		t.Errorf("inspect = %+v", info)
	}
	if _, err := runSub(t, inspectCommand(), root, "", "--format", "json", "hist:1"); err == nil || !strings.Contains(err.Error(), "--size") {
		t.Errorf("--format without --size: %v", err)
	}
}

// The end-of-build line keeps its wording, adds the layers reused and
// new, and shows at most 3 hints.
func TestPrintSummary(t *testing.T) {
	s := buildSummary{digest: v1.Hash{Algorithm: "sha256", Hex: "aa"}, config: v1.Hash{Algorithm: "sha256", Hex: "bb"},
		size: 2048, ran: 2, cached: 1, layers: 4, reused: 3, elapsed: 1500 * time.Millisecond}
	var buf bytes.Buffer
	printSummary(&buf, s, nil)
	want := "image sha256:aa (config sha256:bb), 2.00kB, 2 steps run, 1 step cached, 4 layers (3 reused, 1 new), 1.5s\n"
	if buf.String() != want {
		t.Errorf("summary %q, want %q", buf.String(), want)
	}
	buf.Reset()
	printSummary(&buf, s, []string{"one", "two", "three", "four", "five"})
	want += "hint: one\nhint: two\nhint: three\nhint: 2 more: run builder check\n"
	if buf.String() != want {
		t.Errorf("summary with hints %q, want %q", buf.String(), want)
	}
}
