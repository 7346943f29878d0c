// Package executor runs one Dockerfile RUN process isolated from the host.
//
// At the "namespace" isolation level (root) the builder binary re-executes
// itself once per step as the step's init (see Reexec, stage1.go), PID 1
// of new pid, mount, UTS, IPC (and, for network "none", network)
// namespaces. It mounts the root, a minimal /dev, /sys, /etc/hosts,
// /etc/resolv.conf, the extra mounts and /proc, pivot_roots into the root
// and reports ready with the mount-point stubs it created. The caller
// opens the root through /proc/PID/root and gives the go-ahead; the init
// installs Docker's default seccomp profile (seccomp.go; not with
// Spec.Security "insecure"), drops to the step's user and execs the
// command, which so is PID 1 and leads its session, as in Docker. When it
// exits the kernel kills what it left running and the namespaces end,
// unmounting everything; the caller then removes the stubs through the
// root it holds, so the snapshot diff sees only what the command changed.
// A root served by fuse-overlayfs keeps two stages: the init stays outside
// the step's pid namespace with the fuse daemon, starts stage 2 in it and
// cleans up itself.
//
// At the "chroot" level (an unprivileged pod: no namespaces, no mounts, only
// CAP_SYS_CHROOT and Docker's default capabilities) the init chroots into a
// copied root, writes /etc/hosts and /etc/resolv.conf and a few /dev nodes
// only where missing and removes them afterwards, and kills the step's
// process tree as a child subreaper, by process group and by a sweep of the
// pids whose root is the step's. It mounts nothing: the caller places RUN
// --mount content into the root (PlacesMounts). It installs no seccomp
// filter of its own (the pod's applies). It protects a build from mistakes,
// not from hostile code: the pod is the boundary.
//
// At the "rootless" level the same init runs as root of a user namespace.
// A non-root user gets one from RunInUserNamespace, which main calls
// first: the whole builder process re-executes in new user and mount
// namespaces mapping the user to 0 and its /etc/subuid and /etc/subgid
// ranges to 1... (newuidmap, newgidmap; without a range the user alone),
// so extraction, snapshots and diffs all see container ids. Root of a user
// namespace made elsewhere (`unshare -r`, hostUsers: false) is detected
// and gets a mount namespace of its own. What a user namespace cannot do
// is replaced: the host's /sys is bound where sysfs may not be mounted,
// and limits need a delegated cgroup v2 subtree.
//
// At both levels the init leads its own session, so a step has no
// controlling terminal, and Spec.Output gets the step's stdout and stderr
// through one pipe, in the order they were written.
//
// The executor owns namespaces, mounts, users and cgroup limits; it knows
// nothing about layers.
package executor
