package executor_test

import (
	"strings"
	"testing"

	"github.com/builderdev/builder/executor"
)

// TestSeccompDefaultProfile checks that a namespace step runs under
// Docker's default seccomp profile: a blocked call (unshare of a user
// namespace, which the step's capabilities alone would allow) fails with
// EPERM, and works with SecurityInsecure; ordinary steps, as root and as a
// user, still work.
func TestSeccompDefaultProfile(t *testing.T) {
	e := newExec(t)
	root := busyboxRoot(t)
	insecure := func(s *executor.Spec) { s.Security = executor.SecurityInsecure }

	out, _, err := run(t, e, root, sh("grep Seccomp: /proc/self/status"), nil)
	if err != nil || !strings.Contains(out, "Seccomp:\t2") {
		t.Errorf("default step: %q, %v; want seccomp filter mode 2", out, err)
	}
	out, _, err = run(t, e, root, sh("grep Seccomp: /proc/self/status"), insecure)
	if err != nil || !strings.Contains(out, "Seccomp:\t0") {
		t.Errorf("insecure step: %q, %v; want no seccomp filter", out, err)
	}

	_, stderr, err := run(t, e, root, sh("unshare -U true"), nil)
	if err == nil || !strings.Contains(stderr, "Operation not permitted") {
		t.Errorf("unshare -U under the default profile: %v, stderr %q; want EPERM", err, stderr)
	}
	if _, stderr, err := run(t, e, root, sh("unshare -U true"), insecure); err != nil {
		t.Errorf("unshare -U with --security=insecure: %v\n%s", err, stderr)
	}

	script := "mkdir -p /tmp/d/e && echo hi > /tmp/d/f && ln /tmp/d/f /tmp/d/g && ln -s f /tmp/d/h && " +
		"chmod 600 /tmp/d/f && touch -d 2001-01-01 /tmp/d/g && mv /tmp/d/e /tmp/d/i && cat /tmp/d/h && " +
		"rm -r /tmp/d && (sleep 0 &) && wait"
	for _, uid := range []uint32{0, 1000} {
		out, stderr, err := run(t, e, root, sh(script), func(s *executor.Spec) { s.UID, s.GID = uid, uid })
		if err != nil || out != "hi\n" {
			t.Errorf("file operations as uid %d: %q, %v\n%s", uid, out, err, stderr)
		}
	}
	if out, stderr, err := run(t, e, root, sh("chown 1000:1000 /tmp && chown 0:0 /tmp && chroot / true && echo ok"), nil); err != nil || out != "ok\n" {
		t.Errorf("chown and chroot as root: %q, %v\n%s", out, err, stderr)
	}
}

// TestSecurityModeChecked checks that an unknown security mode is refused.
func TestSecurityModeChecked(t *testing.T) {
	root := busyboxRoot(t)
	for _, e := range []executor.Executor{newExec(t), newChrootExec(t)} {
		_, _, err := run(t, e, root, []string{"true"}, func(s *executor.Spec) { s.Security = "bogus" })
		if err == nil || !strings.Contains(err.Error(), `security mode "bogus"`) {
			t.Errorf("Run: %v, want a security mode error", err)
		}
	}
}

// TestDefaultSeccompProfileOCI: the OCI form allows what the Go filter
// allows for Docker's default capabilities and denies the rest with EPERM.
func TestDefaultSeccompProfileOCI(t *testing.T) {
	p := executor.DefaultSeccompProfile()
	if p["defaultAction"] != "SCMP_ACT_ERRNO" {
		t.Fatalf("defaultAction %v", p["defaultAction"])
	}
	allowed := map[string]bool{}
	for _, r := range p["syscalls"].([]any) {
		m := r.(map[string]any)
		if m["action"] == "SCMP_ACT_ALLOW" && m["args"] == nil {
			for _, n := range m["names"].([]string) {
				allowed[n] = true
			}
		}
	}
	for _, n := range []string{"read", "execve", "chroot", "setresuid", "openat"} {
		if !allowed[n] {
			t.Errorf("%s is not allowed", n)
		}
	}
	for _, n := range []string{"unshare", "mount", "setns", "pivot_root", "bpf", "init_module"} {
		if allowed[n] {
			t.Errorf("%s is allowed without its capability", n)
		}
	}
}
