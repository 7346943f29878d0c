package executor

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/builderdev/builder/internal/userns"
)

func TestBuildMap(t *testing.T) {
	if _, err := exec.LookPath("newuidmap"); err != nil {
		t.Skip("no newuidmap (Debian package uidmap)")
	}
	m := buildMap(1000, []userns.Range{{Start: 200000, Count: 65536}, {Start: 300000, Count: 10}}, "newuidmap")
	want := []userns.IDMap{{Inside: 0, Outside: 1000, Size: 1}, {Inside: 1, Outside: 200000, Size: 65536},
		{Inside: 65537, Outside: 300000, Size: 10}}
	if m.helper == "" || len(m.lines) != len(want) {
		t.Fatalf("buildMap = %+v", m)
	}
	for i := range want {
		if m.lines[i] != want[i] {
			t.Errorf("line %d = %+v, want %+v", i, m.lines[i], want[i])
		}
	}
	alone := buildMap(1000, nil, "newuidmap")
	if alone.helper != "" || len(alone.lines) != 1 || alone.lines[0] != want[0] {
		t.Errorf("no range: %+v, want the user alone without a helper", alone)
	}
	missing := buildMap(1000, []userns.Range{{Start: 200000, Count: 65536}}, "no-such-newuidmap")
	if missing.helper != "" || len(missing.lines) != 1 {
		t.Errorf("no helper: %+v, want the user alone", missing)
	}
}

// Every way a rootless limit can lack its cgroup is named, with the flag.
func TestCheckDelegated(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		fsys cgroupFS
		l    Limits
		want []string
	}{
		{"v1 memory", cgroupFS{v1: map[string]string{"memory": "/sys/fs/cgroup/memory/x"}}, Limits{Memory: 1 << 20},
			[]string{"--memory at the rootless level needs a cgroup v2 subtree delegated to uid", "cgroup v1", "/sys/fs/cgroup/memory/x"}},
		{"no v2", cgroupFS{}, Limits{CPUs: 1},
			[]string{"--cpus at the rootless level", "no cgroup v2 file system is mounted"}},
		{"not delegated", cgroupFS{v2: dir, v2Ctrls: map[string]bool{"memory": true}}, Limits{Pids: 5},
			[]string{"--pids-limit", `the "pids" controller is not delegated to ` + dir, "it has: memory"}},
		{"not writable", cgroupFS{v2: "/proc/1", v2Ctrls: map[string]bool{"memory": true}}, Limits{Memory: 1},
			[]string{"--memory", "/proc/1 is not writable"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := checkDelegated(&c.fsys, c.l)
			if c.name == "not writable" && err == nil {
				t.Skip("root may write /proc/1 here")
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if err := checkDelegated(&cgroupFS{v2: dir, v2Ctrls: map[string]bool{"memory": true, "cpu": true}}, Limits{Memory: 1, CPUs: 1}); err != nil {
		t.Errorf("a writable v2 subtree with the controllers: %v", err)
	}
}
