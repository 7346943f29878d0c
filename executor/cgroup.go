package executor

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupFS is where each controller lives on this machine.
type cgroupFS struct {
	v1      map[string]string // controller -> dir of this process's cgroup in its v1 hierarchy
	v2      string            // this process's cgroup dir in the unified hierarchy ("" if none)
	v2Ctrls map[string]bool   // controllers available in the unified hierarchy
}

// cgroup is one per-run cgroup: a directory per hierarchy used.
type cgroup struct {
	dirs    []string // created directories (removed at the end)
	memV1   string   // memory dir when memory is a v1 controller
	memV2   string   // dir when memory is a v2 controller
	limited bool
}

// newCgroup creates the cgroups needed for l; with no limits it returns an
// empty cgroup whose methods do nothing.
func newCgroup(l Limits) (*cgroup, error) {
	cg := &cgroup{}
	if l.Memory <= 0 && l.CPUs <= 0 && l.Pids <= 0 {
		return cg, nil
	}
	fsys, err := detectCgroups()
	if err != nil {
		return nil, err
	}
	name, err := randomName("builder-")
	if err != nil {
		return nil, err
	}
	type setting struct{ ctrl, v1file, v1val, v2file, v2val string }
	var want []setting
	if l.Memory > 0 {
		m := strconv.FormatInt(l.Memory, 10)
		want = append(want, setting{"memory", "memory.limit_in_bytes", m, "memory.max", m})
	}
	if l.CPUs > 0 {
		const period = 100000
		quota := int64(l.CPUs * period)
		if quota < 1000 {
			quota = 1000
		}
		q := strconv.FormatInt(quota, 10)
		// v1 needs two files: period first, then quota.
		want = append(want,
			setting{"cpu", "cpu.cfs_period_us", strconv.Itoa(period), "", ""},
			setting{"cpu", "cpu.cfs_quota_us", q, "cpu.max", q + " " + strconv.Itoa(period)})
	}
	if l.Pids > 0 {
		p := strconv.FormatInt(l.Pids, 10)
		want = append(want, setting{"pids", "pids.max", p, "pids.max", p})
	}
	made := map[string]bool{}
	mk := func(dir string) error {
		if made[dir] {
			return nil
		}
		if err := os.Mkdir(dir, 0o755); err != nil {
			return fmt.Errorf("create cgroup: %w", err)
		}
		made[dir] = true
		cg.dirs = append(cg.dirs, dir)
		return nil
	}
	for _, s := range want {
		if parent, ok := fsys.v1[s.ctrl]; ok {
			dir := filepath.Join(parent, name)
			if err := mk(dir); err != nil {
				cg.remove()
				return nil, err
			}
			if s.ctrl == "memory" {
				cg.memV1 = dir
			}
			if err := writeFile(filepath.Join(dir, s.v1file), s.v1val); err != nil {
				cg.remove()
				return nil, err
			}
			continue
		}
		if fsys.v2 == "" || !fsys.v2Ctrls[s.ctrl] {
			cg.remove()
			return nil, fmt.Errorf("set limits: cgroup controller %q is not available", s.ctrl)
		}
		if s.v2file == "" {
			continue
		}
		// Enabling a controller for children may fail when the parent
		// already has it enabled (fine) or holds processes (not fine).
		_ = writeFile(filepath.Join(fsys.v2, "cgroup.subtree_control"), "+"+s.ctrl)
		dir := filepath.Join(fsys.v2, name)
		if err := mk(dir); err != nil {
			cg.remove()
			return nil, err
		}
		if s.ctrl == "memory" {
			cg.memV2 = dir
			// No swapping past the limit, as with docker --memory and no swap.
			_ = writeFile(filepath.Join(dir, "memory.swap.max"), "0")
		}
		if err := writeFile(filepath.Join(dir, s.v2file), s.v2val); err != nil {
			cg.remove()
			return nil, err
		}
	}
	cg.limited = true
	return cg, nil
}

// procsFiles lists the cgroup.procs file of every directory.
func (cg *cgroup) procsFiles() []string {
	var out []string
	for _, dir := range cg.dirs {
		out = append(out, filepath.Join(dir, "cgroup.procs"))
	}
	return out
}

// oomKilled reports whether the kernel OOM-killed a process of the cgroup.
func (cg *cgroup) oomKilled() bool {
	switch {
	case cg.memV1 != "":
		return readCounter(filepath.Join(cg.memV1, "memory.oom_control"), "oom_kill") > 0
	case cg.memV2 != "":
		return readCounter(filepath.Join(cg.memV2, "memory.events"), "oom_kill") > 0
	}
	return false
}

// remove deletes the cgroup directories; tasks may take a moment to leave.
func (cg *cgroup) remove() {
	for i := len(cg.dirs) - 1; i >= 0; i-- {
		dir := cg.dirs[i]
		for try := 0; try < 50; try++ {
			err := os.Remove(dir)
			if err == nil || errors.Is(err, os.ErrNotExist) {
				break
			}
			// Some tasks may still be exiting (or escaped a killed init).
			killAll(dir)
			time.Sleep(10 * time.Millisecond)
		}
	}
	cg.dirs = nil
}

// killAll kills every process left in the cgroup dir.
func killAll(dir string) {
	if writeFile(filepath.Join(dir, "cgroup.kill"), "1") == nil {
		return
	}
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(data)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
	}
}

// detectCgroups reads /proc/self/mountinfo and /proc/self/cgroup.
func detectCgroups() (*cgroupFS, error) {
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("read cgroups: %w", err)
	}
	paths := map[string]string{} // "memory" or "" (v2) -> path
	for _, line := range strings.Split(strings.TrimSpace(string(self)), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			paths[""] = parts[2]
			continue
		}
		for _, c := range strings.Split(parts[1], ",") {
			paths[c] = parts[2]
		}
	}
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	defer f.Close()
	fsys := &cgroupFS{v1: map[string]string{}, v2Ctrls: map[string]bool{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, fld := range fields {
			if fld == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || len(fields) < sep+4 || len(fields) < 5 {
			continue
		}
		root, mnt, fstype, super := fields[3], unescapeMount(fields[4]), fields[sep+1], fields[sep+3]
		switch fstype {
		case "cgroup2":
			if fsys.v2 != "" {
				continue
			}
			p, ok := paths[""]
			if !ok {
				continue
			}
			fsys.v2 = filepath.Join(mnt, relCgroup(root, p))
			data, err := os.ReadFile(filepath.Join(fsys.v2, "cgroup.controllers"))
			if err == nil {
				for _, c := range strings.Fields(string(data)) {
					fsys.v2Ctrls[c] = true
				}
			}
		case "cgroup":
			for _, opt := range strings.Split(super, ",") {
				p, ok := paths[opt]
				if !ok {
					continue
				}
				if _, seen := fsys.v1[opt]; !seen {
					fsys.v1[opt] = filepath.Join(mnt, relCgroup(root, p))
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mounts: %w", err)
	}
	return fsys, nil
}

// relCgroup is path p (as in /proc/self/cgroup) relative to a mount whose
// root is root.
func relCgroup(root, p string) string {
	if root == "/" {
		return p
	}
	if rel, err := filepath.Rel(root, p); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}

func unescapeMount(s string) string {
	r := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`)
	return r.Replace(s)
}

func readCounter(file, key string) int64 {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == key {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

func writeFile(file, val string) error {
	f, err := os.OpenFile(file, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	if _, err := f.WriteString(val); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}

func randomName(prefix string) (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random name: %w", err)
	}
	return prefix + hex.EncodeToString(b), nil
}
