package userns

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// IDMap is one line of /proc/PID/uid_map or gid_map: ids Inside..Inside+Size-1
// in the namespace are Outside..Outside+Size-1 in its parent.
type IDMap struct {
	Inside, Outside, Size uint32
}

// ReadMap parses a uid_map or gid_map file.
func ReadMap(file string) ([]IDMap, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read id map: %w", err)
	}
	return ParseMap(string(data))
}

// ParseMap parses the text of a uid_map or gid_map file.
func ParseMap(text string) ([]IDMap, error) {
	var out []IDMap
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("parse id map line %q: want 3 fields", line)
		}
		var v [3]uint32
		for i, s := range f {
			n, err := strconv.ParseUint(s, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("parse id map line %q: %w", line, err)
			}
			v[i] = uint32(n)
		}
		out = append(out, IDMap{Inside: v[0], Outside: v[1], Size: v[2]})
	}
	return out, nil
}

// isInitial reports whether m is the identity map of the initial user
// namespace ("0 0 4294967295").
func isInitial(m []IDMap) bool {
	return len(m) == 1 && m[0].Inside == 0 && m[0].Outside == 0 && m[0].Size == 4294967295
}

// Inside reports whether this process runs in a user namespace other than
// the host's initial one (e.g. under `unshare -r`, in a pod with
// hostUsers: false, or in builder's own rootless namespace).
func Inside() bool {
	m, err := ReadMap("/proc/self/uid_map")
	if err != nil {
		return false // no user namespaces at all: the initial one
	}
	return !isInitial(m)
}

// Mapped reports how many uids this process's user namespace maps (all of
// them, 1<<32-1, in the initial namespace).
func Mapped() uint64 {
	m, err := ReadMap("/proc/self/uid_map")
	if err != nil {
		return 1<<32 - 1
	}
	var n uint64
	for _, e := range m {
		n += uint64(e.Size)
	}
	return n
}

// HostUID is the uid that uid maps to in the parent user namespace of this
// process's namespace (uid itself in the initial namespace); ok is false
// when uid is not mapped.
func HostUID(uid int) (host int, ok bool) {
	m, err := ReadMap("/proc/self/uid_map")
	if err != nil {
		return uid, true
	}
	return outside(m, uid)
}

func outside(m []IDMap, id int) (int, bool) {
	for _, e := range m {
		if id >= int(e.Inside) && id < int(e.Inside)+int(e.Size) {
			return int(e.Outside) + id - int(e.Inside), true
		}
	}
	return 0, false
}

// Range is one subordinate id range of /etc/subuid or /etc/subgid.
type Range struct {
	Start, Count uint32
}

// SubIDs returns the ranges file (/etc/subuid or /etc/subgid) gives the
// user with name name or numeric id id. A missing file means no ranges.
func SubIDs(file, name string, id int) ([]Range, error) {
	f, err := os.Open(file)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read subordinate ids: %w", err)
	}
	defer f.Close()
	var out []Range
	sc := bufio.NewScanner(f)
	idStr := strconv.Itoa(id)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.Split(line, ":")
		if len(parts) != 3 || (parts[0] != name && parts[0] != idStr) {
			continue
		}
		start, err1 := strconv.ParseUint(parts[1], 10, 32)
		count, err2 := strconv.ParseUint(parts[2], 10, 32)
		if err1 != nil || err2 != nil || count == 0 {
			continue // newuidmap would refuse it as well
		}
		out = append(out, Range{Start: uint32(start), Count: uint32(count)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read subordinate ids: %w", err)
	}
	return out, nil
}
