package parser

import (
	"encoding/csv"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Mount types of RUN --mount.
const (
	MountBind   = "bind"
	MountCache  = "cache"
	MountTmpfs  = "tmpfs"
	MountSecret = "secret"
	MountSSH    = "ssh"
)

// Sharing modes of cache mounts.
const (
	SharingShared  = "shared"
	SharingPrivate = "private"
	SharingLocked  = "locked"
)

// Mount is one RUN --mount, typed. Unset optional numbers are nil.
type Mount struct {
	// Raw is the flag value as written (without "--mount="). Expand re-parses
	// it after expanding each value.
	Raw      string
	Type     string // bind (default), cache, tmpfs, secret, ssh
	Target   string
	Source   string
	From     string
	ReadOnly bool // defaults: true for bind, secret, ssh; false for cache, tmpfs
	ID       string
	Sharing  string // cache only: shared, private, locked ("" = shared)
	UID      *uint32
	GID      *uint32
	Mode     *uint32 // octal in the Dockerfile
	Size     int64   // tmpfs only, bytes
	Required bool    // secret and ssh only
	Env      *string // secret only: expose the secret as this env variable
}

var mountKeys = []string{"type", "from", "source", "target", "readonly", "id", "sharing", "required", "size", "mode", "uid", "gid", "src", "dst", "destination", "ro", "rw", "readwrite", "env"}

// parseMount parses one --mount value, expanding each value with expand
// (identity when nil), with buildkit's checks and wording.
func parseMount(raw string, expand func(string) (string, error)) (*Mount, error) {
	r := csv.NewReader(strings.NewReader(raw))
	r.LazyQuotes = true
	fields, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("failed to parse csv mounts: %w", err)
	}
	m := &Mount{Raw: raw, Type: MountBind}
	roAuto := true
	for _, field := range fields {
		key, value, ok := strings.Cut(field, "=")
		key = strings.ToLower(key)
		if !ok {
			switch key {
			case "readonly", "ro":
				m.ReadOnly, roAuto = true, false
				continue
			case "readwrite", "rw":
				m.ReadOnly, roAuto = false, false
				continue
			case "required":
				if m.Type != MountSecret && m.Type != MountSSH {
					return nil, fmt.Errorf("unexpected key '%s' for mount type '%s'", key, m.Type)
				}
				m.Required = true
				continue
			default:
				return nil, fmt.Errorf("invalid field '%s' must be a key=value pair", field)
			}
		}
		if key == "from" {
			if i := strings.IndexByte(value, '$'); i != -1 && i != len(value)-1 {
				return nil, fmt.Errorf("'%s' doesn't support variable expansion, define alias stage instead", key)
			}
		}
		if expand != nil {
			if value, err = expand(value); err != nil {
				return nil, err
			}
		}
		if err := m.set(key, value, field, &roAuto); err != nil {
			return nil, err
		}
	}
	return m, m.check(roAuto)
}

func (m *Mount) set(key, value, field string, roAuto *bool) error {
	var err error
	switch key {
	case "type":
		v := strings.ToLower(value)
		switch v {
		case MountBind, MountCache, MountTmpfs, MountSecret, MountSSH:
		default:
			return fmt.Errorf("unsupported mount type %q%s", value, suggest(value, []string{MountBind, MountCache, MountTmpfs, MountSecret, MountSSH}, true))
		}
		m.Type = v
	case "from":
		m.From = value
	case "source", "src":
		m.Source = value
	case "target", "dst", "destination":
		m.Target = value
	case "readonly", "ro":
		if m.ReadOnly, err = strconv.ParseBool(value); err != nil {
			return fmt.Errorf("invalid value for %s: %s", key, value)
		}
		*roAuto = false
	case "readwrite", "rw":
		rw, err := strconv.ParseBool(value)
		if err != nil {
			return fmt.Errorf("invalid value for %s: %s", key, value)
		}
		m.ReadOnly, *roAuto = !rw, false
	case "required":
		if m.Type != MountSecret && m.Type != MountSSH {
			return fmt.Errorf("unexpected key '%s' for mount type '%s'", key, m.Type)
		}
		if m.Required, err = strconv.ParseBool(value); err != nil {
			return fmt.Errorf("invalid value for %s: %s", key, value)
		}
	case "size":
		if m.Type != MountTmpfs {
			return fmt.Errorf("unexpected key '%s' for mount type '%s'", key, m.Type)
		}
		if m.Size, err = ramInBytes(value); err != nil {
			return fmt.Errorf("invalid value for %s: %s", key, value)
		}
	case "id":
		m.ID = value
	case "sharing":
		v := strings.ToLower(value)
		switch v {
		case SharingShared, SharingPrivate, SharingLocked:
		default:
			return fmt.Errorf("unsupported sharing value %q%s", value, suggest(value, []string{SharingShared, SharingPrivate, SharingLocked}, true))
		}
		m.Sharing = v
	case "mode":
		v, err := strconv.ParseUint(value, 8, 32)
		if err != nil {
			return fmt.Errorf("invalid value %s for mode", value)
		}
		mode := uint32(v)
		m.Mode = &mode
	case "uid", "gid":
		v, err := strconv.ParseUint(value, 10, 32)
		if err != nil {
			return fmt.Errorf("invalid value %s for %s", value, key)
		}
		id := uint32(v)
		if key == "uid" {
			m.UID = &id
		} else {
			m.GID = &id
		}
	case "env":
		v := value
		m.Env = &v
	default:
		return fmt.Errorf("unexpected key '%s' in '%s'%s", key, field, suggest(key, mountKeys, true))
	}
	return nil
}

func (m *Mount) check(roAuto bool) error {
	if m.Type != MountSecret && m.Type != MountSSH && m.Type != MountCache {
		if m.Mode != nil {
			return fmt.Errorf("mode not allowed for %q type mounts", m.Type)
		}
		if m.UID != nil {
			return fmt.Errorf("uid not allowed for %q type mounts", m.Type)
		}
		if m.GID != nil {
			return fmt.Errorf("gid not allowed for %q type mounts", m.Type)
		}
	}
	if roAuto {
		m.ReadOnly = m.Type != MountCache && m.Type != MountTmpfs
	}
	if m.Type == MountSecret {
		switch {
		case m.From != "":
			return errors.New("secret mount should not have a from")
		case m.Sharing != "":
			return errors.New("secret mount should not define sharing")
		case m.Source == "" && m.Target == "" && m.ID == "":
			return errors.New("invalid secret mount. one of source, target required")
		case m.Source != "" && m.ID != "":
			return errors.New("both source and id can't be set")
		}
	}
	if m.Sharing != "" && m.Type != MountCache {
		return fmt.Errorf("invalid cache sharing set for %v mount", m.Type)
	}
	return nil
}

// ramInBytes parses sizes like docker/go-units RAMInBytes: "64m", "1.5g",
// "1024", "10KiB" (binary multiples, case-insensitive).
func ramInBytes(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" || f < 0 {
		return 0, fmt.Errorf("invalid size: %q", s)
	}
	unit = strings.TrimSuffix(strings.TrimSuffix(unit, "b"), "i")
	mult := map[string]float64{"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
	m, ok := mult[unit]
	if !ok {
		return 0, fmt.Errorf("invalid size: %q", s)
	}
	return int64(f * m), nil
}
