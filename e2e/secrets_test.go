package e2e_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/builderdev/builder/internal/testenv"
)

// A --secret value never reaches progress or an error: not from a RUN that
// prints it, not from the last lines of a failed step, not split over
// writes. A build arg named like a secret gets BuildKit's
// SecretsUsedInArgOrEnv warning.
func TestSecretsScrubbedAndWarned(t *testing.T) {
	testenv.LeakCheck(t)
	const value = "hunter2-very-secret"
	root := newRoot(t)
	ctxDir := filepath.Join(t.TempDir(), "ctx")
	secretFile := filepath.Join(t.TempDir(), "s")
	writeFile(t, secretFile, "file-secret-value\n")
	writeFile(t, filepath.Join(ctxDir, "Dockerfile"), `FROM busybox
ARG PASSWORD
RUN --mount=type=secret,id=tok,env=TOK --mount=type=secret,id=f \
    echo "tok is $TOK"; printf 'half:%s' "${TOK%%-*}"; printf '%s\n' "-${TOK#*-}"; cat /run/secrets/f; \
    echo "$TOK" >&2; false "$TOK"
`)
	for _, progress := range []string{"plain", "json"} {
		r := runBuilder(t, runOpts{env: []string{"TOK_VALUE=" + value}}, "--root", root, "build", "--progress", progress,
			"--build-context", busyboxContext(t), "--secret", "id=tok,env=TOK_VALUE", "--secret", "id=f,src="+secretFile,
			"--build-arg", "PASSWORD=not-a-good-idea", ctxDir)
		if r.code == 0 {
			t.Fatalf("%s: build succeeded:\n%s", progress, r)
		}
		if progress == "plain" {
			// the failed step's last lines, each masked on its own
			_, tail, _ := strings.Cut(r.stderr, "last output:\n")
			var got []string
			for _, l := range strings.Split(strings.TrimSpace(tail), "\n") {
				got = append(got, strings.TrimSpace(l))
			}
			if want := []string{"tok is ****", "half:****", "****", "****"}; strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("last output %q, want %q", got, want)
			}
		}
		for _, leak := range []string{value, "file-secret-value", "very-secret"} {
			if strings.Contains(r.stdout+r.stderr, leak) {
				t.Errorf("%s: output holds %q:\n%s", progress, leak, r)
			}
		}
		if !strings.Contains(r.stderr, "tok is ****") || !strings.Contains(r.stderr, "****") {
			t.Errorf("%s: the RUN output is not shown masked:\n%s", progress, r.stderr)
		}
		if !strings.Contains(r.stderr, `SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ARG \"PASSWORD\")`) &&
			!strings.Contains(r.stderr, `SecretsUsedInArgOrEnv: Do not use ARG or ENV instructions for sensitive data (ARG "PASSWORD") (Dockerfile:2)`) {
			t.Errorf("%s: no SecretsUsedInArgOrEnv warning:\n%s", progress, r.stderr)
		}
	}
}
