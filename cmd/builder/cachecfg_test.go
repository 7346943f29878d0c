package main

import (
	"strings"
	"testing"

	"github.com/builderdev/builder/build"
)

func TestParseCacheSpec(t *testing.T) {
	for _, tc := range []struct {
		in     string
		export bool
		want   build.CacheSpec
		err    string
	}{
		{in: "type=registry,ref=reg.example/app:cache", export: true, want: build.CacheSpec{Type: "registry", Ref: "reg.example/app:cache", Mode: "min"}},
		{in: "type=registry,ref=r/a:c,mode=max,ignore-error=true", export: true, want: build.CacheSpec{Type: "registry", Ref: "r/a:c", Mode: "max", IgnoreError: true}},
		{in: "reg.example/app:cache", want: build.CacheSpec{Type: "registry", Ref: "reg.example/app:cache"}},
		{in: "type=local,src=/tmp/c", want: build.CacheSpec{Type: "local", Dir: "/tmp/c"}},
		{in: "type=local,dest=/tmp/c,tag=v1", export: true, want: build.CacheSpec{Type: "local", Dir: "/tmp/c", Tag: "v1", Mode: "min"}},
		{in: "type=registry,ref=r/a,oci-mediatypes=true,image-manifest=true", export: true, want: build.CacheSpec{Type: "registry", Ref: "r/a", Mode: "min"}},
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
