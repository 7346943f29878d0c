package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/builderdev/builder/store"
)

// tarLayer is a layer of regular files (name → size), in order.
func tarLayer(t *testing.T, files ...any) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i < len(files); i += 2 {
		name, size := files[i].(string), files[i+1].(int)
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(size)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(bytes.Repeat([]byte("y"), size)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

var histBase = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// historyImage is tagged hist:1 in a new store at root: a base layer, an
// ENV (empty layer), a RUN that deletes the base's file and a COPY.
func historyImage(t *testing.T, root string) v1.Image {
	t.Helper()
	img, err := mutate.Append(empty.Image,
		mutate.Addendum{Layer: tarLayer(t, "bin/tool", 3000, "etc/conf", 24), History: v1.History{CreatedBy: "COPY rootfs/ / # buildkit", Comment: "buildkit.dockerfile.v0", Created: v1.Time{Time: histBase}}},
		mutate.Addendum{History: v1.History{CreatedBy: "ENV A=1", EmptyLayer: true, Created: v1.Time{Time: histBase.Add(time.Hour)}}},
		mutate.Addendum{Layer: tarLayer(t, "big", 1500000, ".wh.etc", 0), History: v1.History{CreatedBy: "RUN /bin/sh -c rm -rf /etc && head -c 1500000 /dev/zero > /big # buildkit", Created: v1.Time{Time: histBase.Add(2 * time.Hour)}}},
		mutate.Addendum{Layer: tarLayer(t, "app", 7), History: v1.History{CreatedBy: "COPY app /app", Created: v1.Time{Time: histBase.Add(3 * time.Hour)}}},
	)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Tag(context.Background(), "hist:1", img); err != nil {
		t.Fatal(err)
	}
	return img
}

// History rows follow the image config's history, newest first, with each
// layer's size (0 for the empty layer) and digest.
func TestHistoryRows(t *testing.T) {
	root := t.TempDir()
	img := historyImage(t, root)
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := img.ConfigName()
	out, err := runSub(t, historyCommand(), root, "", "--format", "json", "hist:1")
	if err != nil {
		t.Fatal(err)
	}
	var rows []historyRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("not a JSON array: %v\n%s", err, out)
	}
	if len(rows) != len(cfg.History) {
		t.Fatalf("%d rows, want %d (one per history entry)", len(rows), len(cfg.History))
	}
	sizes := []int64{7, 1500000, 0, 3024}
	layers := []string{m.Layers[2].Digest.String(), m.Layers[1].Digest.String(), "", m.Layers[0].Digest.String()}
	for i, r := range rows {
		h := cfg.History[len(cfg.History)-1-i]
		wantID := "<missing>"
		if i == 0 {
			wantID = id.String()
		}
		if r.ID != wantID || r.CreatedBy != h.CreatedBy || !r.Created.Equal(h.Created.Time) || r.EmptyLayer != h.EmptyLayer ||
			r.Comment != h.Comment || r.Size != sizes[i] || r.Layer != layers[i] {
			t.Errorf("row %d = %+v, want history %+v, size %d, layer %s", i, r, h, sizes[i], layers[i])
		}
	}
	if !strings.Contains(out, `"created": "2026-01-02T06:04:05Z"`) {
		t.Errorf("json times are not absolute:\n%s", out)
	}
}

func TestHistoryTable(t *testing.T) {
	root := t.TempDir()
	img := historyImage(t, root)
	rows, err := historyRows(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeHistory(&buf, rows, histBase.Add(5*time.Hour), true); err != nil {
		t.Fatal(err)
	}
	id, _ := img.ConfigName()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := [][]string{
		{"IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"},
		{id.Hex[:12], "2 hours ago", "COPY app /app", "7B"},
		{"<missing>", "3 hours ago", "RUN /bin/sh -c rm -rf /etc && head -c 150000…" /* 44 + … = 45, as docker */, "1.5MB"},
		{"<missing>", "4 hours ago", "ENV A=1", "0B"},
		{"<missing>", "5 hours ago", "COPY rootfs/ / # buildkit", "3.02kB", "buildkit.dockerfile.v0"},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, w := range want {
		for _, cell := range w {
			if !strings.Contains(lines[i], cell) {
				t.Errorf("line %d %q lacks %q", i, lines[i], cell)
			}
		}
	}
	buf.Reset()
	if err := writeHistory(&buf, rows, histBase.Add(5*time.Hour), false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), rows[1].CreatedBy) || !strings.Contains(buf.String(), id.String()) {
		t.Errorf("--no-trunc cuts:\n%s", buf.String())
	}
	if _, err := runSub(t, historyCommand(), root, "", "nope:1"); err == nil {
		t.Error("history of a missing image: no error")
	}
}

func TestDockerSizeAndDuration(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 999: "999B", 1000: "1kB", 1234: "1.23kB", 12345678: "12.3MB", 4400000: "4.4MB", 2 << 30: "2.15GB"} {
		if got := dockerSize(n); got != want {
			t.Errorf("dockerSize(%d) = %q, want %q", n, got, want)
		}
	}
	for d, want := range map[time.Duration]string{
		0: "Less than a second", time.Second: "1 second", 30 * time.Second: "30 seconds",
		time.Minute: "About a minute", 5 * time.Minute: "5 minutes", time.Hour: "About an hour",
		2 * time.Hour: "2 hours", 72 * time.Hour: "3 days", 21 * 24 * time.Hour: "3 weeks",
		90 * 24 * time.Hour: "3 months", 3 * 365 * 24 * time.Hour: "3 years",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
