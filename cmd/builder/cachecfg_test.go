package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/builderdev/builder/cache"
	"github.com/builderdev/builder/store"
)

func TestParseCacheSpec(t *testing.T) {
	for _, tc := range []struct {
		in     string
		export bool
		want   cacheSpec
		err    string
	}{
		{in: "type=registry,ref=reg.example/app:cache", export: true, want: cacheSpec{typ: "registry", ref: "reg.example/app:cache", mode: "min"}},
		{in: "type=registry,ref=r/a:c,mode=max,ignore-error=true", export: true, want: cacheSpec{typ: "registry", ref: "r/a:c", mode: "max", ignoreError: true}},
		{in: "reg.example/app:cache", want: cacheSpec{typ: "registry", ref: "reg.example/app:cache"}},
		{in: "type=local,src=/tmp/c", want: cacheSpec{typ: "local", dir: "/tmp/c"}},
		{in: "type=local,dest=/tmp/c,tag=v1", export: true, want: cacheSpec{typ: "local", dir: "/tmp/c", tag: "v1", mode: "min"}},
		{in: "type=registry,ref=r/a,oci-mediatypes=true,image-manifest=true", export: true, want: cacheSpec{typ: "registry", ref: "r/a", mode: "min"}},
		{in: "type=local,dest=/tmp/c", err: `unknown option "dest"`},
		{in: "type=local,src=/tmp/c", export: true, err: `unknown option "src"`},
		{in: "type=registry,ref=r/a,mode=all", export: true, err: "mode must be min or max"},
		{in: "type=registry,ref=r/a,mode=max", err: `unknown option "mode"`},
		{in: "type=registry", err: "needs ref="},
		{in: "type=local", export: true, err: "needs dest="},
		{in: "type=gha", err: `unsupported cache type "gha"`},
		{in: "ref=r/a", err: "type= is missing"},
		{in: "type=registry,ref", err: "is not KEY=VALUE"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseCacheSpec(tc.in, tc.export)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// A local cache exported by one root is imported by another; a missing
// source only warns.
func TestCacheOptionsLocal(t *testing.T) {
	ctx := context.Background()
	src, key, blob := seed(t, t.TempDir())
	dir := filepath.Join(t.TempDir(), "cache")
	var warnings []string
	warn := func(s string) { warnings = append(warnings, s) }
	to := &cacheOptions{to: []string{"type=local,dest=" + dir + ",mode=max"}}
	if err := to.exportCaches(ctx, src, nil, []v1.Hash{key}, warn); err != nil {
		t.Fatal(err)
	}
	dstRoot := t.TempDir()
	st, err := store.Open(dstRoot)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := cache.Open(st.CacheDir(), st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Get(ctx, key); err == nil {
		t.Fatal("the new root already has the record")
	}
	from := &cacheOptions{from: []string{"type=local,src=" + dir, "type=local,src=" + filepath.Join(dir, "missing")}}
	if err := from.importCaches(ctx, dst, warn); err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "no cache there yet") {
		t.Errorf("warnings: %q", warnings)
	}
	if _, err := dst.Get(ctx, key); err != nil {
		t.Errorf("imported record: %v", err)
	}
	if !st.HasBlob(ctx, blob) {
		t.Error("imported blob missing")
	}
	// mode=min with no final keys exports an empty cache; a failing
	// destination fails unless ignore-error=true.
	bad := &cacheOptions{to: []string{"type=local,dest=/proc/nope"}}
	if err := bad.exportCaches(ctx, src, nil, nil, warn); err == nil {
		t.Error("export to an unwritable dir succeeded")
	}
	bad.to[0] += ",ignore-error=true"
	if err := bad.exportCaches(ctx, src, nil, nil, warn); err != nil || len(warnings) != 2 {
		t.Errorf("ignore-error: %v, warnings %q", err, warnings)
	}
}
