package e2e_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
)

// TestSeccompSecurityModes checks that RUN steps at the namespace level
// get Docker's default seccomp profile (unshare of a user namespace fails
// with EPERM), that --security=insecure turns it off for the build, and
// that RUN --security=insecure needs --allow security.insecure.
func TestSeccompSecurityModes(t *testing.T) {
	testenv.LeakCheck(t)
	bb := busyboxContext(t)
	dir := t.TempDir()
	write := func(name, df string) string {
		ctxDir := filepath.Join(dir, name)
		writeFile(t, filepath.Join(ctxDir, "Dockerfile"), df)
		return ctxDir
	}
	plain := write("plain", "FROM busybox\nRUN grep Seccomp: /proc/self/status && unshare -U true && echo UN$((1+1))\n")
	perStep := write("step", "FROM busybox\nRUN --security=insecure unshare -U true && echo UN$((1+1))\n")
	tests := []struct {
		name    string
		ctx     string
		flags   []string
		ok      bool
		want    []string
		notWant string
	}{
		{"default profile", plain, nil, false, []string{"Seccomp:\t2", "Operation not permitted"}, "UN2"},
		{"--security=insecure", plain, []string{"--security", "insecure"}, true, []string{"Seccomp:\t0", "UN2"}, ""},
		{"RUN --security=insecure without --allow", perStep, nil, false,
			[]string{"Dockerfile:2", "RUN --security=insecure is not allowed: pass --allow security.insecure"}, "UN2"},
		{"RUN --security=insecure with --allow", perStep, []string{"--allow", "security.insecure"}, true, []string{"UN2"}, ""},
		{"unknown --security", plain, []string{"--security", "bogus"}, false, []string{`invalid --security "bogus"`}, ""},
		{"unknown --allow", plain, []string{"--allow", "bogus"}, false, []string{`invalid --allow "bogus"`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--root", newRoot(t), "build", "--progress", "plain", "--isolation", "namespace",
				"--build-context", bb}, tt.flags...)
			r := runBuilder(t, runOpts{}, append(args, tt.ctx)...)
			if (r.code == 0) != tt.ok {
				t.Fatalf("exit %d, want success %t:\n%s", r.code, tt.ok, r)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("output lacks %q:\n%s", w, r.stderr)
				}
			}
			if tt.notWant != "" && strings.Contains(r.stderr, tt.notWant) {
				t.Errorf("output has %q:\n%s", tt.notWant, r.stderr)
			}
		})
	}
}
