package build

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/builderdev/builder/executor"
	"github.com/builderdev/builder/store"
)

// The first auto-detecting runner of a store probes and remembers what
// it found under this environment's fingerprint; the next one takes the
// remembered level and snapshotter without probing (shown by a record
// the probes would never give: copy snapshots at the namespace level);
// a record of another environment is ignored and replaced.
func TestRunnerRemembersDetection(t *testing.T) {
	if _, err := executor.Detect(); err != nil {
		t.Skipf("no isolation level works here: %v", err)
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	newR := func() *runner {
		t.Helper()
		r, err := newRunner(ctx, st, "")
		t.Cleanup(r.release)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	read := func() detected {
		t.Helper()
		var d detected
		b, err := os.ReadFile(filepath.Join(st.Root(), detectFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	write := func(d detected) {
		t.Helper()
		b, _ := json.Marshal(d)
		if err := os.WriteFile(filepath.Join(st.Root(), detectFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	first := newR()
	fp := environment(st.TmpDir())
	if fp == "" || environment(st.TmpDir()) != fp {
		t.Fatalf("fingerprint %q is not stable", fp)
	}
	if d := read(); d != (detected{Fingerprint: fp, Level: first.level, Snapshotter: first.kind}) {
		t.Fatalf("remembered %+v, the probes found %s/%s", d, first.level, first.kind)
	}

	write(detected{Fingerprint: fp, Level: executor.Namespace, Snapshotter: "copy"})
	if r := newR(); r.level != executor.Namespace || r.kind != "copy" {
		t.Errorf("runner %s/%s, want the remembered namespace/copy", r.level, r.kind)
	}

	write(detected{Fingerprint: "another environment", Level: executor.Namespace, Snapshotter: "copy"})
	if r := newR(); r.level != first.level || r.kind != first.kind {
		t.Errorf("runner %s/%s with another environment's record, want the probed %s/%s", r.level, r.kind, first.level, first.kind)
	}
	if d := read(); d.Fingerprint != fp {
		t.Errorf("record %+v not replaced", d)
	}

	// An explicit level probes nothing and leaves the record alone.
	write(detected{Fingerprint: fp, Level: executor.Namespace, Snapshotter: "copy"})
	r, err := newRunner(ctx, st, executor.Chroot)
	t.Cleanup(r.release)
	if err != nil {
		t.Fatal(err)
	}
	if r.level != executor.Chroot || r.kind != "copy" || read().Snapshotter != "copy" {
		t.Errorf("--isolation chroot: %s/%s", r.level, r.kind)
	}
}
