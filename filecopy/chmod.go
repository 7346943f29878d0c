package filecopy

import (
	"fmt"
	"strconv"
	"strings"
)

// ParseChmod parses a --chmod value as BuildKit does: octal ("755", at most
// 07777, replacing all permission and special bits) or symbolic
// ("u+x,g-w,o=r", "a+X", "+x"). The returned function maps a tar mode
// (permission and special bits) to the new one; isDir matters for "X".
func ParseChmod(s string) (func(mode int64, isDir bool) int64, error) {
	if n, err := strconv.ParseUint(s, 8, 32); err == nil {
		if n > 0o7777 {
			return nil, fmt.Errorf("invalid chmod parameter: '%v'. it should be octal string and between 0 and 07777", s)
		}
		return func(int64, bool) int64 { return int64(n) }, nil
	}
	if s == "" || strings.IndexFunc(s, func(r rune) bool { return r >= '0' && r <= '9' }) >= 0 {
		return nil, fmt.Errorf("invalid chmod parameter: '%v'. it should be octal string and between 0 and 07777", s)
	}
	var clauses []func(m int64, isDir bool) int64
	for _, part := range strings.Split(s, ",") {
		i := 0
		var who int64
		for i < len(part) && strings.IndexByte("ugoa", part[i]) >= 0 {
			switch part[i] {
			case 'u':
				who |= 0o4700
			case 'g':
				who |= 0o2070
			case 'o':
				who |= 0o1007
			case 'a':
				who |= 0o7777
			}
			i++
		}
		if who == 0 {
			who = 0o7777
		}
		if i >= len(part) {
			return nil, fmt.Errorf("invalid chmod parameter: '%v'", s)
		}
		for i < len(part) {
			op := part[i]
			if op != '+' && op != '-' && op != '=' {
				return nil, fmt.Errorf("invalid chmod parameter: '%v'", s)
			}
			i++
			j := i
			for j < len(part) && strings.IndexByte("rwxXst", part[j]) >= 0 {
				j++
			}
			perms := part[i:j]
			i = j
			w := who
			clauses = append(clauses, func(m int64, isDir bool) int64 {
				var bits int64
				for _, c := range perms {
					switch c {
					case 'r':
						bits |= 0o444
					case 'w':
						bits |= 0o222
					case 'x':
						bits |= 0o111
					case 'X':
						if isDir || m&0o111 != 0 {
							bits |= 0o111
						}
					case 's':
						bits |= 0o6000
					case 't':
						bits |= 0o1000
					}
				}
				bits &= w
				switch op {
				case '+':
					return m | bits
				case '-':
					return m &^ bits
				default:
					return m&^(w&0o0777|w&0o7000) | bits
				}
			})
		}
	}
	return func(m int64, isDir bool) int64 {
		for _, c := range clauses {
			m = c(m, isDir)
		}
		return m
	}, nil
}
