package executor

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/builderdev/builder/internal/userns"
)

// userNSName is argv[0] of this binary re-executed into its rootless user
// namespace: it waits until the parent has written its id maps, then
// execs the real command line (argv[1:]) as root of the namespace.
const userNSName = "builder-userns"

// userNSSyncFD is the pipe on which the parent says the maps are written.
const userNSSyncFD = 3

// Subordinate id files (Debian's uidmap setup).
const (
	subUIDFile = "/etc/subuid"
	subGIDFile = "/etc/subgid"
)

// RunInUserNamespace makes a non-root user root of a user namespace: it
// re-executes this program with the same arguments and environment in new
// user and mount namespaces that map the user to 0 and, where /etc/subuid
// and /etc/subgid give the user ranges, those ranges to 1... (with
// newuidmap and newgidmap), waits for it and returns its exit status.
// Everything the command does (extracting layers, mounting roots, running
// steps) then happens with container ids, as for root, while the files it
// creates belong to the user or to its subordinate ids on the host.
//
// ok is false, and nothing ran, when this process is root already or user
// namespaces cannot be created here; the caller then goes on as it is.
func RunInUserNamespace() (code int, ok bool, err error) {
	if os.Geteuid() == 0 {
		// Root of a user namespace made by someone else (`unshare -r`)
		// may still be in the host's mount namespace, where it can mount
		// nothing: go on in a mount namespace of its own.
		if userns.Inside() && !ownsMountNamespace() {
			cmd := childCmd(os.Args[0], os.Args, unix.CLONE_NEWNS)
			code, err := runChild(cmd, nil)
			return code, true, err
		}
		return 0, false, nil
	}
	uidMap, gidMap, err := rootlessMaps(os.Getuid(), os.Getgid())
	if err != nil {
		return 0, false, err
	}
	if err := probeUserNamespace(); err != nil {
		return 0, false, nil
	}
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return 0, true, fmt.Errorf("create pipe: %w", err)
	}
	defer syncW.Close()
	cmd := childCmd(userNSName, append([]string{userNSName}, os.Args...), unix.CLONE_NEWUSER|unix.CLONE_NEWNS)
	cmd.ExtraFiles = []*os.File{syncR}
	code, err = runChild(cmd, func(pid int) error {
		syncR.Close()
		if err := writeMaps(pid, uidMap, gidMap); err != nil {
			return err
		}
		if _, err := syncW.Write([]byte{1}); err != nil {
			return fmt.Errorf("start user namespace: %w", err)
		}
		return syncW.Close()
	})
	return code, true, err
}

// childCmd runs this binary as argv in new namespaces (flags) with this
// process's environment and standard files.
func childCmd(name string, argv []string, flags uintptr) *exec.Cmd {
	return &exec.Cmd{
		Path:   "/proc/self/exe",
		Args:   argv,
		Env:    os.Environ(),
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: flags,
			Pdeathsig:  syscall.SIGKILL,
		},
	}
}

// runChild starts cmd, runs started (if any) with its pid, passes on the
// signals this process gets and returns cmd's exit status (128+n when
// killed by signal n).
func runChild(cmd *exec.Cmd, started func(pid int) error) (int, error) {
	// Pdeathsig follows the thread that started the child.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start user namespace: %w", err)
	}
	if started != nil {
		if err := started(cmd.Process.Pid); err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			return 0, err
		}
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				_ = cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	waitErr := cmd.Wait()
	close(done)
	if waitErr == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if errors.As(waitErr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok {
			return exitCode(ws), nil
		}
		return ee.ExitCode(), nil
	}
	return 0, fmt.Errorf("wait for user namespace: %w", waitErr)
}

// nsGetUserns is NS_GET_USERNS (linux/nsfs.h): the owning user namespace
// of a namespace.
const nsGetUserns = 0xb701

// ownsMountNamespace reports whether this process's mount namespace
// belongs to its user namespace (so that root here may mount).
func ownsMountNamespace() bool {
	mnt, err := unix.Open("/proc/self/ns/mnt", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return true
	}
	defer unix.Close(mnt)
	owner, err := unix.IoctlRetInt(mnt, nsGetUserns)
	if errors.Is(err, unix.EPERM) {
		return false // owned by a user namespace above ours
	}
	if err != nil {
		return true // cannot tell: go on as is
	}
	defer unix.Close(owner)
	var a, b unix.Stat_t
	if unix.Fstat(owner, &a) != nil || unix.Stat("/proc/self/ns/user", &b) != nil {
		return true
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// idMaps are the uid or gid map lines for a rootless namespace, and
// whether they need the setuid helper (newuidmap/newgidmap).
type idMaps struct {
	lines  []userns.IDMap
	helper string // "" when the process may write its single line itself
}

// rootlessMaps maps uid (gid) to 0 and the subordinate ranges to 1....
func rootlessMaps(uid, gid int) (idMaps, idMaps, error) {
	name := strconv.Itoa(uid)
	if u, err := user.LookupId(name); err == nil {
		name = u.Username
	}
	uids, err := userns.SubIDs(subUIDFile, name, uid)
	if err != nil {
		return idMaps{}, idMaps{}, err
	}
	gids, err := userns.SubIDs(subGIDFile, name, uid)
	if err != nil {
		return idMaps{}, idMaps{}, err
	}
	um := buildMap(uint32(uid), uids, "newuidmap")
	gm := buildMap(uint32(gid), gids, "newgidmap")
	// Both or neither: a full uid range with one gid would fail chgrp
	// where chown works, which is harder to understand.
	if um.helper == "" || gm.helper == "" {
		um, gm = buildMap(uint32(uid), nil, ""), buildMap(uint32(gid), nil, "")
	}
	return um, gm, nil
}

func buildMap(id uint32, ranges []userns.Range, helper string) idMaps {
	m := idMaps{lines: []userns.IDMap{{Inside: 0, Outside: id, Size: 1}}}
	if len(ranges) == 0 {
		return m
	}
	path, err := exec.LookPath(helper)
	if err != nil {
		return m
	}
	next := uint32(1)
	for _, r := range ranges {
		m.lines = append(m.lines, userns.IDMap{Inside: next, Outside: r.Start, Size: r.Count})
		next += r.Count
	}
	m.helper = path
	return m
}

// writeMaps writes the child's gid and uid maps: through the setuid
// helpers for subordinate ranges, else directly (setgroups denied first,
// as the kernel requires of an unprivileged gid map).
func writeMaps(pid int, uidMap, gidMap idMaps) error {
	p := strconv.Itoa(pid)
	for _, m := range []struct {
		maps idMaps
		file string
	}{{gidMap, "gid_map"}, {uidMap, "uid_map"}} {
		if m.maps.helper != "" {
			args := []string{p}
			for _, l := range m.maps.lines {
				args = append(args, strconv.FormatUint(uint64(l.Inside), 10),
					strconv.FormatUint(uint64(l.Outside), 10), strconv.FormatUint(uint64(l.Size), 10))
			}
			out, err := exec.Command(m.maps.helper, args...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("map ids with %s: %w: %s", m.maps.helper, err, bytes.TrimSpace(out))
			}
			continue
		}
		if m.file == "gid_map" {
			if err := os.WriteFile("/proc/"+p+"/setgroups", []byte("deny"), 0); err != nil {
				return fmt.Errorf("deny setgroups: %w", err)
			}
		}
		l := m.maps.lines[0]
		line := fmt.Sprintf("%d %d %d\n", l.Inside, l.Outside, l.Size)
		if err := os.WriteFile("/proc/"+p+"/"+m.file, []byte(line), 0); err != nil {
			return fmt.Errorf("write %s: %w", m.file, err)
		}
	}
	return nil
}

// userNSInit is the re-executed child: once the maps are written it execs
// the original command line, which then starts as root of the namespace
// with all capabilities there (an exec before the maps existed left it
// none).
func userNSInit() int {
	f := os.NewFile(userNSSyncFD, "sync")
	b := make([]byte, 1)
	n, _ := f.Read(b)
	f.Close()
	if n != 1 {
		return 1 // the parent failed and reported it
	}
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "builder: user namespace: no command")
		return 1
	}
	err := syscall.Exec("/proc/self/exe", os.Args[1:], os.Environ())
	fmt.Fprintf(os.Stderr, "builder: user namespace: exec: %v\n", err)
	return 1
}

// probeUserNamespace checks that a user namespace can be made here.
func probeUserNamespace() error {
	cmd := &exec.Cmd{
		Path: "/proc/self/exe",
		Args: []string{probeName},
		Env:  []string{},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: unix.CLONE_NEWUSER | unix.CLONE_NEWNS,
			Pdeathsig:  syscall.SIGKILL,
		},
	}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("create user namespace: %w", err)
	}
	return nil
}

// UserNamespaceNote is what the rootless level should tell the user about
// its id map once: "" when it maps more than one id.
func UserNamespaceNote() string {
	if !userns.Inside() || userns.Mapped() > 1 {
		return ""
	}
	host, _ := userns.HostUID(0)
	return fmt.Sprintf("only uid %d is mapped (as 0): no range for it in %s and %s (or no newuidmap), so chown to other ids will fail",
		host, subUIDFile, subGIDFile)
}

// StoreUID is the uid that decides the default store root: the host uid
// this process's uid maps to, so that root of a rootless namespace uses the
// user's store, not /var/lib/builder.
func StoreUID() int {
	if h, ok := userns.HostUID(os.Geteuid()); ok {
		return h
	}
	return os.Geteuid()
}
