package executor

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// DefaultSeccompProfile is the same profile the namespace and rootless
// levels install (moby's default.json for Docker's default capabilities),
// in the OCI runtime spec's linux.seccomp form, for a runtime such as runc
// to apply: tests use it to run builder in a pod set up as Kubernetes
// does by default.
func DefaultSeccompProfile() map[string]any {
	caps := defaultCaps()
	var names []string
	seen := map[string]bool{}
	add := func(ns ...string) {
		for _, n := range ns {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	add(seccompAllow...)
	add(seccompByArch[runtime.GOARCH]...)
	for _, r := range seccompByCap {
		if caps[r.cap] {
			add(r.names...)
		}
	}
	rules := []any{
		map[string]any{"names": names, "action": "SCMP_ACT_ALLOW"},
		map[string]any{"names": []string{"socket"}, "action": "SCMP_ACT_ALLOW",
			"args": []any{map[string]any{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}}},
	}
	for _, v := range []uint64{0, 8, 0x20000, 0x20008, 0xffffffff} {
		rules = append(rules, map[string]any{"names": []string{"personality"}, "action": "SCMP_ACT_ALLOW",
			"args": []any{map[string]any{"index": 0, "value": v, "op": "SCMP_CMP_EQ"}}})
	}
	if !caps[unix.CAP_SYS_ADMIN] {
		rules = append(rules,
			map[string]any{"names": []string{"clone"}, "action": "SCMP_ACT_ALLOW",
				"args": []any{map[string]any{"index": 0, "value": uint64(cloneNamespaceFlags), "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}}},
			map[string]any{"names": []string{"clone3"}, "action": "SCMP_ACT_ERRNO", "errnoRet": int(unix.ENOSYS)})
	}
	return map[string]any{
		"defaultAction":   "SCMP_ACT_ERRNO",
		"defaultErrnoRet": int(unix.EPERM),
		"architectures":   []string{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"},
		"syscalls":        rules,
	}
}
