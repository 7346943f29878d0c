package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/builderdev/builder/executor"
	"github.com/builderdev/builder/internal/platform"
)

// TestInfo: builder info lists the native platforms, the emulated ones with
// their handler, handlers without the F flag as unusable, the isolation
// levels and the store root, as text and as JSON.
func TestInfo(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"status":       "enabled\n",
		"register":     "",
		"qemu-aarch64": "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\n",
		"qemu-arm":     "enabled\ninterpreter /usr/bin/qemu-arm\nflags: OC\noffset 0\nmagic 7f454c4601010100000000000000000002002800\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(t.TempDir(), "root")
	run := func(o *infoOptions, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		if err := o.run(context.Background(), &globalOptions{root: root}, args, stdio{out: &out, err: &out}); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	o := &infoOptions{format: "text", binfmtDir: dir, detect: func() (executor.Isolation, error) { return executor.Namespace, nil }}
	out := run(o)
	for _, want := range []string{
		"Version:     dev\n",
		"Store root:  " + root + "\n",
		"Isolation:   namespace, chroot (auto: namespace)\n",
		"  linux/arm64      emulated, binfmt_misc qemu-aarch64 (/usr/libexec/qemu-binfmt/aarch64-binfmt-P)\n",
		"  linux/arm/v7     not usable: binfmt_misc qemu-arm has no F flag\n",
		fmt.Sprintf("  %-16s native\n", platform.String(platform.Host())),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("info lacks %q:\n%s", want, out)
		}
	}
	o.format = "json"
	var rep infoReport
	if err := json.Unmarshal([]byte(run(o)), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Root != root || rep.Isolation.Auto != "namespace" || len(rep.Unusable) != 1 || rep.Unusable[0].Platform != "linux/arm/v7" {
		t.Errorf("json report %+v", rep)
	}
	last := rep.Platforms[len(rep.Platforms)-1]
	if last.Platform != "linux/arm64" || last.Emulator != "qemu-aarch64" {
		t.Errorf("json platforms %+v", rep.Platforms)
	}

	// No binfmt_misc and no isolation: said, not an error.
	o = &infoOptions{format: "text", binfmtDir: filepath.Join(dir, "none"), detect: func() (executor.Isolation, error) { return "", errors.New("no chroot") }}
	out = run(o)
	if !strings.Contains(out, "Isolation:   none works here: no chroot\n") || !strings.Contains(out, "No emulators: install qemu-user-static") {
		t.Errorf("info without emulators:\n%s", out)
	}
}
