package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// TestPushProgress: every progress mode shows a push; json as a typed
// event; --quiet shows none.
func TestPushProgress(t *testing.T) {
	d, _ := v1.NewHash("sha256:" + strings.Repeat("ab", 32))
	p := pushed{ref: "127.0.0.1:5000/app:v1", digest: d, size: 1234}
	line := "pushed 127.0.0.1:5000/app:v1@" + d.String() + " size: 1234"
	for _, mode := range []string{"plain", "tty"} {
		var buf bytes.Buffer
		rep, done := newRenderer(mode, false, &buf)
		report := pushReport(rep)
		if report == nil {
			t.Fatalf("%s: no push reporting", mode)
		}
		report(p)
		done()
		if !strings.Contains(buf.String(), line) {
			t.Errorf("%s progress:\n%q\nwant a line %q", mode, buf.String(), line)
		}
	}

	var buf bytes.Buffer
	rep, done := newRenderer("json", false, &buf)
	pushReport(rep)(p)
	done()
	var e struct {
		Status, Ref, Digest string
		Size                int64
	}
	if err := json.Unmarshal(buf.Bytes(), &e); err != nil {
		t.Fatalf("json progress %q: %v", buf.String(), err)
	}
	if e.Status != "pushed" || e.Ref != p.ref || e.Digest != d.String() || e.Size != 1234 {
		t.Errorf("json push event %q: %+v", buf.String(), e)
	}

	rep, _ = newRenderer("plain", true, &buf)
	if pushReport(rep) != nil {
		t.Error("--quiet reports pushes")
	}
}
