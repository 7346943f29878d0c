package parser

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// ChmodFunc computes the mode of a copied file or directory from its original
// mode. Only permission, setuid, setgid and sticky bits are affected.
type ChmodFunc func(orig fs.FileMode, isDir bool) fs.FileMode

// ParseChmod validates a COPY/ADD --chmod value as BuildKit does: an octal
// number up to 07777 (e.g. "0755", "644") or a chmod(1) symbolic mode (e.g.
// "u=rwX,go=rX", "+x", "a-w"). Symbolic modes apply to the source's mode; "X"
// sets execute only on directories or if some execute bit is already set.
func ParseChmod(s string) (ChmodFunc, error) {
	nonOctal := fmt.Errorf("invalid chmod parameter: '%v'. it should be octal string and between 0 and 07777", s)
	if p, err := strconv.ParseUint(s, 8, 32); err == nil {
		if p > 0o7777 {
			return nil, nonOctal
		}
		perm := unixToFileMode(uint32(p))
		return func(orig fs.FileMode, _ bool) fs.FileMode {
			return orig&^modeBits | perm
		}, nil
	} else if s != "" && s[0] >= '0' && s[0] <= '9' {
		return nil, nonOctal
	}
	clauses, err := parseSymbolic(s)
	if err != nil {
		return nil, err
	}
	return func(orig fs.FileMode, isDir bool) fs.FileMode {
		m := fileModeToUnix(orig)
		for _, c := range clauses {
			m = c.apply(m, isDir)
		}
		return orig&^modeBits | unixToFileMode(m)
	}, nil
}

// ApplyUnix applies f to a Unix mode's permission and setuid, setgid and
// sticky bits (as a tar header carries them), for COPY --chmod.
func (f ChmodFunc) ApplyUnix(mode int64, isDir bool) int64 {
	kept := mode &^ 0o7777
	return kept | int64(fileModeToUnix(f(unixToFileMode(uint32(mode&0o7777)), isDir)))
}

const modeBits = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky

func unixToFileMode(m uint32) fs.FileMode {
	fm := fs.FileMode(m & 0o777)
	if m&0o4000 != 0 {
		fm |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		fm |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		fm |= fs.ModeSticky
	}
	return fm
}

func fileModeToUnix(fm fs.FileMode) uint32 {
	m := uint32(fm & fs.ModePerm)
	if fm&fs.ModeSetuid != 0 {
		m |= 0o4000
	}
	if fm&fs.ModeSetgid != 0 {
		m |= 0o2000
	}
	if fm&fs.ModeSticky != 0 {
		m |= 0o1000
	}
	return m
}

type chmodAction struct {
	op    byte   // '+', '-', '='
	perms string // of "rwxXst", or a single "u", "g", "o" to copy
}

type chmodClause struct {
	who     uint32 // mask of the affected bits' classes: 0o4700|0o2070|0o1007...
	actions []chmodAction
}

var errBadMode = errors.New("invalid mode")

func parseSymbolic(s string) ([]chmodClause, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty", errBadMode)
	}
	var out []chmodClause
	for _, part := range strings.Split(s, ",") {
		var c chmodClause
		i := 0
		for ; i < len(part) && strings.IndexByte("ugoa", part[i]) >= 0; i++ {
			switch part[i] {
			case 'u':
				c.who |= 0o4700
			case 'g':
				c.who |= 0o2070
			case 'o':
				c.who |= 0o1007
			case 'a':
				c.who |= 0o7777
			}
		}
		if c.who == 0 {
			c.who = 0o7777
		}
		if i == len(part) {
			return nil, fmt.Errorf("%w: %q", errBadMode, s)
		}
		for i < len(part) {
			op := part[i]
			if op != '+' && op != '-' && op != '=' {
				return nil, fmt.Errorf("%w: %q", errBadMode, s)
			}
			i++
			j := i
			if j < len(part) && strings.IndexByte("ugo", part[j]) >= 0 {
				j++
			} else {
				for j < len(part) && strings.IndexByte("rwxXst", part[j]) >= 0 {
					j++
				}
			}
			c.actions = append(c.actions, chmodAction{op: op, perms: part[i:j]})
			i = j
		}
		out = append(out, c)
	}
	return out, nil
}

func (c chmodClause) apply(m uint32, isDir bool) uint32 {
	for _, a := range c.actions {
		var bits uint32
		switch a.perms {
		case "u":
			bits = (m >> 6 & 7) * 0o111
		case "g":
			bits = (m >> 3 & 7) * 0o111
		case "o":
			bits = (m & 7) * 0o111
		default:
			for _, p := range a.perms {
				switch p {
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
		}
		bits &= c.who
		switch a.op {
		case '+':
			m |= bits
		case '-':
			m &^= bits
		case '=':
			m = m&^c.who | bits
		}
	}
	return m
}
