package solver

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/parser"
	"github.com/builderdev/builder/snapshot"
)

// layerHeaders lists the tar headers of l as "name uid:gid mode".
func layerHeaders(t *testing.T, l v1.Layer) []string {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Name+" "+strconv.Itoa(h.Uid)+":"+strconv.Itoa(h.Gid)+" "+os.FileMode(h.Mode).String())
	}
}

// buildLayers builds req with s and returns the result and its image's
// layers.
func buildLayers(t *testing.T, s *Solver, req *Request) (*Result, []v1.Layer) {
	t.Helper()
	res, err := s.Build(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := res.Image.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return res, ls
}

// extractedLayers reports, per layer of img, whether the store has it
// extracted.
func extractedLayers(t *testing.T, s *Solver, img v1.Image) []bool {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []bool
	for _, l := range ls {
		id, err := l.DiffID()
		if err != nil {
			t.Fatal(err)
		}
		_, err = os.Stat(s.layers.Dir(id))
		out = append(out, err == nil)
	}
	return out
}

// TestCopyOnlyStageExtractsNothing: a stage of COPY --from, WORKDIR and
// COPY steps (no RUN) resolves each destination in the indexes of the
// layers below it and extracts none of its own layers; the layers it
// writes are the bytes it writes when those layers are extracted (the
// owners and modes of the existing directories carried into each layer
// included).
func TestCopyOnlyStageExtractsNothing(t *testing.T) {
	root, ctxDir := t.TempDir(), t.TempDir()
	writeTree(t, ctxDir, map[string]string{
		"deps/a/1.js": "1", "deps/a/2.js": "2", "deps/b/3.js": "3", "out/app.bin": "app", "extra.txt": "x",
	})
	df, err := parser.Parse(strings.NewReader(
		"FROM scratch AS build\nCOPY --chown=7:8 deps /deps/\nCOPY out /out/\n" +
			"FROM scratch\nCOPY --from=build /deps /app/node_modules\nCOPY --from=build /out /app\n" +
			"WORKDIR /app/node_modules/a/work\nCOPY --chmod=600 extra.txt ./\nCOPY extra.txt /app/node_modules/b/\n"))
	if err != nil {
		t.Fatal(err)
	}
	epoch := time.Unix(1700000000, 0) // the two builds date what they make alike
	s := testSolver(t, root)
	res, ls := buildLayers(t, s, &Request{Dockerfile: df, ContextDir: ctxDir, SourceDateEpoch: &epoch})
	if got := extractedLayers(t, s, res.Image); slices.Contains(got, true) {
		t.Errorf("layers extracted after a build of COPY steps only: %v, want none", got)
	}
	// The directories the later steps found in the indexed layers are
	// carried with their owners: /app/node_modules/a is 7:8 (from the
	// build stage's --chown).
	wantIn := map[int]string{
		2: "app/node_modules/a/ 7:8 -rwxr-xr-x",
		4: "app/node_modules/b/ 7:8 -rwxr-xr-x",
	}
	for i, want := range wantIn {
		if hs := layerHeaders(t, ls[i]); !slices.Contains(hs, want) {
			t.Errorf("layer %d has %q, want %q among them", i, hs, want)
		}
	}
	// The same steps again with the layers below them extracted: the same
	// layers.
	for _, l := range ls {
		id, _ := l.DiffID()
		if _, err := s.layers.Ensure(context.Background(), id, l.Uncompressed); err != nil {
			t.Fatal(err)
		}
	}
	again, err := testSolver(t, root).Build(context.Background(), &Request{Dockerfile: df, ContextDir: ctxDir, NoCache: true, SourceDateEpoch: &epoch})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := res.Image.Manifest()
	got, _ := again.Image.Manifest()
	for i := range want.Layers {
		if i >= len(got.Layers) || got.Layers[i].Digest != want.Layers[i].Digest {
			t.Errorf("layer %d differs when the layers below it are extracted", i)
		}
	}
}

// TestCopyChownNameReadsIndexedLayer: a --chown by name reads /etc/passwd
// and /etc/group from a layer only indexed so far: that extracts the
// layer, and the owner is the named one.
func TestCopyChownNameReadsIndexedLayer(t *testing.T) {
	root, ctxDir := t.TempDir(), t.TempDir()
	writeTree(t, ctxDir, map[string]string{
		"passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1234:4321::/home/app:/bin/sh\n",
		"group":  "root:x:0:\napp:x:4321:\n", "f": "f",
	})
	df, err := parser.Parse(strings.NewReader("FROM scratch\nCOPY passwd group /etc/\nCOPY --chown=app:app f /f\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := testSolver(t, root)
	res, ls := buildLayers(t, s, &Request{Dockerfile: df, ContextDir: ctxDir})
	if hs := layerHeaders(t, ls[1]); !slices.Contains(hs, "f 1234:4321 -rw-r--r--") {
		t.Errorf("COPY --chown=app:app wrote %q", hs)
	}
	if got := extractedLayers(t, s, res.Image); !got[0] || got[1] {
		t.Errorf("extracted layers %v, want the /etc one only (read for the owner)", got)
	}
}

// TestLayerIndexKeptInStore: the index made while a layer was written is
// kept in the store and is what a later build looks names up in (one
// whose layer index says otherwise changes that build's result); a
// damaged one is read past, from the layer's tar.
func TestLayerIndexKeptInStore(t *testing.T) {
	root, ctxDir := t.TempDir(), t.TempDir()
	writeTree(t, ctxDir, map[string]string{"deps/a.js": "a", "app.txt": "v1"})
	df, err := parser.Parse(strings.NewReader("FROM scratch AS build\nCOPY deps /deps/\n" +
		"FROM scratch\nCOPY --from=build /deps /app/deps\nCOPY app.txt /app/deps/\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := testSolver(t, root)
	res, ls := buildLayers(t, s, &Request{Dockerfile: df, ContextDir: ctxDir})
	digest, _ := ls[0].Digest()
	if _, ok := s.store.LayerIndex(digest); !ok {
		t.Fatalf("no index of the COPY --from layer in the store")
	}
	if extractedLayers(t, s, res.Image)[0] {
		t.Fatalf("the COPY --from layer was extracted")
	}
	// An index in which /app/deps is a file.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "app/deps", Mode: 0o644})
	_ = tw.Close()
	fake, err := snapshot.ReadIndex(context.Background(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := fake.MarshalBinary()
	if err := s.store.RecordLayerIndex(digest, data); err != nil {
		t.Fatal(err)
	}
	rebuild := func(content string) error {
		writeTree(t, ctxDir, map[string]string{"app.txt": content})
		_, err := testSolver(t, root).Build(context.Background(), &Request{Dockerfile: df, ContextDir: ctxDir})
		return err
	}
	if err := rebuild("v2"); err == nil || !strings.Contains(err.Error(), "cannot copy to non-directory") {
		t.Errorf("build over an index with /app/deps a file: %v, want a not-a-directory error", err)
	}
	if err := s.store.RecordLayerIndex(digest, append(data[:len(data)-1:len(data)-1], data[len(data)-1]^1)); err != nil {
		t.Fatal(err)
	}
	if err := rebuild("v3"); err != nil {
		t.Errorf("build over a damaged index: %v", err)
	}
}
