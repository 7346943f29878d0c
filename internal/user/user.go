package user

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
)

// FS is the read-only view of an image root the lookups read from. Names are
// unrooted slash paths such as "etc/passwd".
type FS interface {
	Open(name string) (io.ReadCloser, error)
}

// Identity is a resolved user: numeric ids, home directory and supplementary
// groups.
type Identity struct {
	UID, GID uint32
	Home     string
	Groups   []uint32 // supplementary group ids
}

// Paths of the account databases inside the root.
const (
	PasswdPath = "etc/passwd"
	GroupPath  = "etc/group"
)

type passwdEntry struct {
	name     string
	uid, gid uint32
	home     string
}

type groupEntry struct {
	name    string
	gid     uint32
	members []string
}

// Resolve resolves a USER specification the way runc's GetExecUser does for
// the process of a RUN step or a container: "name", "uid", "uid:gid",
// "name:group", "uid:group", "name:gid". A name that is not in etc/passwd
// (or etc/group) is an error; a numeric uid not in etc/passwd gets gid 0 and
// home "/". Supplementary groups are the groups listing the user's name, and
// only when no group was given explicitly.
func Resolve(fsys FS, spec string) (Identity, error) {
	userArg, groupArg, _ := strings.Cut(spec, ":")
	id := Identity{Home: "/"}
	if userArg == "" {
		userArg = "0"
	}
	users, err := readPasswd(fsys)
	if err != nil {
		return Identity{}, err
	}
	uidArg, uidErr := parseID(userArg)
	var matched *passwdEntry
	for i := range users {
		u := &users[i]
		if u.name == userArg || (uidErr == nil && u.uid == uidArg) {
			matched = u
			break
		}
	}
	switch {
	case matched != nil:
		id.UID, id.GID, id.Home = matched.uid, matched.gid, matched.home
		if id.Home == "" {
			id.Home = "/"
		}
	case uidErr == nil:
		id.UID = uidArg
	default:
		return Identity{}, fmt.Errorf("unable to find user %s: no matching entries in passwd file", userArg)
	}

	if groupArg == "" && matched == nil {
		return id, nil
	}
	groups, err := readGroup(fsys)
	if err != nil {
		return Identity{}, err
	}
	if groupArg != "" {
		gid, err := lookupGroup(groups, groupArg)
		if err != nil {
			return Identity{}, err
		}
		id.GID = gid
		return id, nil
	}
	for _, g := range groups {
		for _, m := range g.members {
			if m == matched.name {
				id.Groups = append(id.Groups, g.gid)
				break
			}
		}
	}
	return id, nil
}

// ResolveChown resolves a COPY/ADD --chown specification the way BuildKit
// does: a numeric user without a group uses the same number as gid
// ("--chown=55" is 55:55), a user name takes its primary gid from etc/passwd,
// a group overrides the gid. "root" is 0 and an empty user (":staff") is
// uid 0, both without a lookup, so they work without etc/passwd. Home and
// Groups are left empty. Unknown names are errors.
func ResolveChown(fsys FS, spec string) (Identity, error) {
	userArg, groupArg, hasGroup := strings.Cut(spec, ":")
	if (userArg == "" && !hasGroup) || (hasGroup && groupArg == "") {
		return Identity{}, fmt.Errorf("invalid chown spec %q", spec)
	}
	var id Identity
	if uid, err := chownID(userArg); err == nil {
		id.UID, id.GID = uid, uid
	} else {
		users, err := readPasswd(fsys)
		if err != nil {
			return Identity{}, err
		}
		found := false
		for _, u := range users {
			if u.name == userArg {
				id.UID, id.GID, found = u.uid, u.gid, true
				break
			}
		}
		if !found {
			return Identity{}, fmt.Errorf("unable to find user %s: no matching entries in passwd file", userArg)
		}
	}
	if hasGroup {
		if gid, err := chownID(groupArg); err == nil {
			id.GID = gid
			return id, nil
		}
		groups, err := readGroup(fsys)
		if err != nil {
			return Identity{}, err
		}
		gid, err := lookupGroup(groups, groupArg)
		if err != nil {
			return Identity{}, err
		}
		id.GID = gid
	}
	return id, nil
}

func lookupGroup(groups []groupEntry, arg string) (uint32, error) {
	gidArg, gidErr := parseID(arg)
	for _, g := range groups {
		if g.name == arg || (gidErr == nil && g.gid == gidArg) {
			return g.gid, nil
		}
	}
	if gidErr == nil {
		return gidArg, nil
	}
	return 0, fmt.Errorf("unable to find group %s: no matching entries in group file", arg)
}

// chownID is BuildKit's parseUID for --chown: "root" is 0 and an empty
// user (":group") is 0 without reading etc/passwd or etc/group; otherwise a
// number.
func chownID(s string) (uint32, error) {
	if s == "" || s == "root" {
		return 0, nil
	}
	return parseID(s)
}

func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, err
	}
	return uint32(n), nil
}

// readLines returns the colon-split fields of each non-comment line of name;
// a missing file is no lines.
func readLines(fsys FS, name string) ([][]string, error) {
	if fsys == nil {
		return nil, nil
	}
	rc, err := fsys.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("open %s: %w", name, err)
	}
	defer rc.Close()
	var out [][]string
	sc := bufio.NewScanner(rc)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		out = append(out, strings.Split(line, ":"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return out, nil
}

func readPasswd(fsys FS) ([]passwdEntry, error) {
	lines, err := readLines(fsys, PasswdPath)
	if err != nil {
		return nil, err
	}
	var out []passwdEntry
	for _, f := range lines {
		// name:password:uid:gid:gecos:home:shell
		if len(f) < 4 {
			continue
		}
		uid, err1 := parseID(f[2])
		gid, err2 := parseID(f[3])
		if err1 != nil || err2 != nil {
			continue
		}
		e := passwdEntry{name: f[0], uid: uid, gid: gid}
		if len(f) > 5 {
			e.home = f[5]
		}
		out = append(out, e)
	}
	return out, nil
}

func readGroup(fsys FS) ([]groupEntry, error) {
	lines, err := readLines(fsys, GroupPath)
	if err != nil {
		return nil, err
	}
	var out []groupEntry
	for _, f := range lines {
		// name:password:gid:member,member
		if len(f) < 3 {
			continue
		}
		gid, err := parseID(f[2])
		if err != nil {
			continue
		}
		e := groupEntry{name: f[0], gid: gid}
		if len(f) > 3 && f[3] != "" {
			for _, m := range strings.Split(f[3], ",") {
				if m = strings.TrimSpace(m); m != "" {
					e.members = append(e.members, m)
				}
			}
		}
		out = append(out, e)
	}
	return out, nil
}
