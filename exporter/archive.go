package exporter

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/builderdev/builder/internal/ctxio"
)

// Annotations written on index.json entries, as containerd and BuildKit do.
const (
	RefNameAnnotation   = "org.opencontainers.image.ref.name"
	ImageNameAnnotation = "io.containerd.image.name"
)

// WriteOCI writes img as an OCI image layout in a tar (what BuildKit's
// type=oci gives): oci-layout, index.json and blobs/sha256/…. refName, if
// not empty, is an image reference ("app", "reg/app:1.2"): as with BuildKit
// the index entry carries the full name ("docker.io/library/app:latest") in
// io.containerd.image.name and the tag ("latest") in
// org.opencontainers.image.ref.name.
func WriteOCI(ctx context.Context, w io.Writer, img v1.Image, refName string, opts ...Option) error {
	o, err := makeOptions(opts)
	if err != nil {
		return fmt.Errorf("write oci tar: %w", err)
	}
	img, cleanup, err := convert(ctx, img, o, true)
	if err != nil {
		return fmt.Errorf("write oci tar: %w", err)
	}
	defer cleanup()
	var names []string
	if refName != "" {
		names = []string{refName}
	}
	if err := writeArchive(ctx, w, img, names, false); err != nil {
		return fmt.Errorf("write oci tar: %w", err)
	}
	return nil
}

// WriteDocker writes img as a tar that `docker load` takes (BuildKit's
// type=docker): manifest.json with RepoTags next to an OCI layout whose
// manifest has Docker media types (unless options ask for OCI ones).
func WriteDocker(ctx context.Context, w io.Writer, img v1.Image, tags []string, opts ...Option) error {
	o, err := makeOptions(opts)
	if err != nil {
		return fmt.Errorf("write docker tar: %w", err)
	}
	img, cleanup, err := convert(ctx, img, o, false)
	if err != nil {
		return fmt.Errorf("write docker tar: %w", err)
	}
	defer cleanup()
	if err := writeArchive(ctx, w, img, tags, true); err != nil {
		return fmt.Errorf("write docker tar: %w", err)
	}
	return nil
}

// record is one tar entry: a header plus either bytes or a layer to stream.
type record struct {
	hdr   tar.Header
	data  []byte
	layer v1.Layer
	want  v1.Hash
}

// epoch is the mtime of every archive entry, as containerd writes them.
var epoch = time.Unix(0, 0)

func dirRecord(name string) record {
	return record{hdr: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch}}
}

func fileRecord(name string, mode int64, data []byte) record {
	return record{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(data)), ModTime: epoch}, data: data}
}

func blobName(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

// writeArchive writes the tar of an OCI layout holding img, plus Docker's
// manifest.json when docker is set. Entries are sorted by name.
func writeArchive(ctx context.Context, w io.Writer, img v1.Image, names []string, docker bool) error {
	seen := map[v1.Hash]bool{}
	recs := []record{dirRecord("blobs/"), dirRecord("blobs/sha256/")}
	mdesc, m, layerPaths, err := imageRecords(img, seen, &recs)
	if err != nil {
		return err
	}
	return finishArchive(ctx, w, recs, mdesc, m, layerPaths, names, docker)
}

// imageRecords appends the records of img's manifest, config and layer
// blobs not yet seen, and returns the manifest's descriptor (with the
// platform of its config), the manifest and its layers' paths.
func imageRecords(img v1.Image, seen map[v1.Hash]bool, recs *[]record) (v1.Descriptor, *v1.Manifest, []string, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return v1.Descriptor{}, nil, nil, fmt.Errorf("read manifest: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return v1.Descriptor{}, nil, nil, fmt.Errorf("read manifest: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, nil, nil, fmt.Errorf("read media type: %w", err)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return v1.Descriptor{}, nil, nil, fmt.Errorf("read config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return v1.Descriptor{}, nil, nil, fmt.Errorf("read layers: %w", err)
	}
	sum := sha256.Sum256(raw)
	mdesc := v1.Descriptor{MediaType: mt, Size: int64(len(raw)), Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}}
	if cf, err := img.ConfigFile(); err == nil && cf.OS != "" && cf.Architecture != "" {
		mdesc.Platform = &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant, OSVersion: cf.OSVersion}
	}
	for _, b := range []struct {
		h    v1.Hash
		data []byte
	}{{mdesc.Digest, raw}, {m.Config.Digest, cfg}} {
		if !seen[b.h] {
			seen[b.h] = true
			*recs = append(*recs, fileRecord(blobName(b.h), 0o444, b.data))
		}
	}
	var layerPaths []string
	for i, d := range m.Layers {
		layerPaths = append(layerPaths, blobName(d.Digest))
		if seen[d.Digest] || !d.MediaType.IsDistributable() {
			continue
		}
		seen[d.Digest] = true
		*recs = append(*recs, record{
			hdr:   tar.Header{Name: blobName(d.Digest), Typeflag: tar.TypeReg, Mode: 0o444, Size: d.Size, ModTime: epoch},
			layer: layers[i], want: d.Digest,
		})
	}
	return mdesc, m, layerPaths, nil
}

// finishArchive adds index.json (one entry per name, pointing at mdesc),
// oci-layout and, for docker, manifest.json (m and layerPaths), and writes
// every record sorted by name.
func finishArchive(ctx context.Context, w io.Writer, recs []record, mdesc v1.Descriptor, m *v1.Manifest, layerPaths, names []string, docker bool) error {
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	var repoTags []string
	for _, n := range names {
		full, tag, familiar, err := splitName(n)
		if err != nil {
			return err
		}
		d := mdesc
		d.Annotations = map[string]string{RefNameAnnotation: tag}
		if full != "" {
			d.Annotations[ImageNameAnnotation] = full
			repoTags = append(repoTags, familiar)
		}
		idx.Manifests = append(idx.Manifests, d)
	}
	if len(idx.Manifests) == 0 {
		idx.Manifests = []v1.Descriptor{mdesc}
	}
	ib, err := json.Marshal(idx)
	if err != nil {
		return fmt.Errorf("encode index: %w", err)
	}
	recs = append(recs, fileRecord("index.json", 0o644, ib),
		fileRecord("oci-layout", 0o444, []byte(`{"imageLayoutVersion":"1.0.0"}`)))
	if docker {
		if repoTags == nil {
			repoTags = []string{}
		}
		dm, err := json.Marshal([]dockerManifest{{Config: blobName(m.Config.Digest), RepoTags: repoTags, Layers: layerPaths}})
		if err != nil {
			return fmt.Errorf("encode manifest.json: %w", err)
		}
		recs = append(recs, fileRecord("manifest.json", 0o644, dm))
	}
	sort.Slice(recs, func(i, j int) bool { return recs[i].hdr.Name < recs[j].hdr.Name })

	tw := tar.NewWriter(w)
	for _, r := range recs {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := writeRecord(ctx, tw, r); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("close tar: %w", err)
	}
	return nil
}

type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// writeRecord writes one entry, streaming and verifying layer blobs.
func writeRecord(ctx context.Context, tw *tar.Writer, r record) error {
	if err := tw.WriteHeader(&r.hdr); err != nil {
		return fmt.Errorf("write %s: %w", r.hdr.Name, err)
	}
	if r.layer == nil {
		if _, err := tw.Write(r.data); err != nil {
			return fmt.Errorf("write %s: %w", r.hdr.Name, err)
		}
		return nil
	}
	rc, err := r.layer.Compressed()
	if err != nil {
		return fmt.Errorf("open layer %s: %w", r.want, err)
	}
	defer rc.Close()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tw, h), ctxio.Reader(ctx, rc))
	if err != nil {
		return fmt.Errorf("write layer %s: %w", r.want, err)
	}
	if n != r.hdr.Size {
		return fmt.Errorf("write layer %s: %d bytes, manifest says %d", r.want, n, r.hdr.Size)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != r.want.Hex {
		return fmt.Errorf("write layer %s: content digest is sha256:%s", r.want, got)
	}
	return nil
}

// splitName turns a name into the full image name (containerd's
// io.containerd.image.name), the ref.name (the tag) and Docker's familiar
// form, as BuildKit does: "app" is docker.io/library/app:latest, tag latest.
func splitName(n string) (full, tag, familiar string, err error) {
	n = strings.TrimSpace(n)
	if n == "" {
		return "", "", "", fmt.Errorf("empty image name")
	}
	repo, t := n, "latest"
	if i := strings.LastIndex(n, ":"); i > strings.LastIndex(n, "/") {
		repo, t = n[:i], n[i+1:]
	}
	if strings.Contains(repo, "@") {
		return "", "", "", fmt.Errorf("image name %q: digests are not tags", n)
	}
	fam := repo
	for _, p := range []string{"docker.io/library/", "index.docker.io/library/", "docker.io/", "index.docker.io/"} {
		if strings.HasPrefix(fam, p) {
			fam = fam[len(p):]
			break
		}
	}
	first := fam
	if i := strings.Index(fam, "/"); i >= 0 {
		first = fam[:i]
	}
	switch {
	case !strings.Contains(fam, "/"):
		repo = "docker.io/library/" + fam
	case !strings.ContainsAny(first, ".:") && first != "localhost":
		repo = "docker.io/" + fam
	default:
		repo = fam
	}
	return repo + ":" + t, t, fam + ":" + t, nil
}
