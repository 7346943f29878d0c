package executor

import (
	"fmt"
	"runtime"

	seccomp "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	"golang.org/x/sys/unix"
)

// Docker's default seccomp profile, as data. Source: moby's
// profiles/seccomp/default.json (github.com/moby/moby, read at commit
// 00f3d189e420d485e42d15fe494f96d272284e0e), evaluated for what a step has
// here: Docker's default capabilities (defaultCaps), kernel ≥ 4.8, the
// native architecture. Default action: ERRNO(EPERM). The filter is
// assembled in pure Go by github.com/elastic/go-seccomp-bpf (no cgo, no
// libseccomp).
//
// Differences from moby's profile as libseccomp builds it: 32-bit x86
// system calls of an amd64 host (int 0x80) get EPERM and x32 ones ENOSYS
// (the library filters one architecture), where Docker also allows them.

// seccompAllow is moby's unconditional allow-list. Names the library has
// no number for on this architecture (32-bit variants and the like) are
// left out when the filter is built.
var seccompAllow = []string{
	"accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "capget", "capset",
	"chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres",
	"clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
	"clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat",
	"dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
	"epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
	"execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
	"fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchown",
	"fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr",
	"flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs",
	"fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex", "futex_time64", "futex_waitv",
	"futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32",
	"geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer",
	"getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom",
	"getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list",
	"getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid",
	"gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch", "inotify_init",
	"inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents",
	"io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup",
	"io_submit", "io_uring_enter", "io_uring_register", "io_uring_setup", "ipc", "kill",
	"landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown",
	"lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr", "_llseek",
	"lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "membarrier",
	"memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat", "mlock",
	"mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify", "mq_open",
	"mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend", "mq_timedsend_time64",
	"mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd", "msync", "munlock",
	"munlockall", "munmap", "name_to_handle_at", "nanosleep", "newfstatat", "_newselect",
	"open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2",
	"pkey_alloc", "pkey_free", "pkey_mprotect", "poll", "ppoll", "ppoll_time64", "prctl",
	"pread64", "preadv", "preadv2", "prlimit64", "process_mrelease", "pselect6",
	"pselect6_time64", "pwrite64", "pwritev", "pwritev2", "read", "readahead", "readlink",
	"readlinkat", "readv", "recv", "recvfrom", "recvmmsg", "recvmmsg_time64", "recvmsg",
	"remap_file_pages", "removexattr", "rename", "renameat", "renameat2", "restart_syscall",
	"rmdir", "rseq", "rt_sigaction", "rt_sigpending", "rt_sigprocmask", "rt_sigqueueinfo",
	"rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "rt_sigtimedwait_time64",
	"rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr", "sched_getparam",
	"sched_get_priority_max", "sched_get_priority_min", "sched_getscheduler",
	"sched_rr_get_interval", "sched_rr_get_interval_time64", "sched_setaffinity",
	"sched_setattr", "sched_setparam", "sched_setscheduler", "sched_yield", "seccomp",
	"select", "semctl", "semget", "semop", "semtimedop", "semtimedop_time64", "send",
	"sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto", "setfsgid", "setfsgid32",
	"setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups", "setgroups32", "setitimer",
	"setpgid", "setpriority", "setregid", "setregid32", "setresgid", "setresgid32",
	"setresuid", "setresuid32", "setreuid", "setreuid32", "setrlimit", "set_robust_list",
	"setsid", "setsockopt", "set_thread_area", "set_tid_address", "setuid", "setuid32",
	"setxattr", "shmat", "shmctl", "shmdt", "shmget", "shutdown", "sigaltstack", "signalfd",
	"signalfd4", "sigprocmask", "sigreturn", "socketcall", "socketpair", "splice", "stat",
	"stat64", "statfs", "statfs64", "statx", "symlink", "symlinkat", "sync", "sync_file_range",
	"syncfs", "sysinfo", "tee", "tgkill", "time", "timer_create", "timer_delete",
	"timer_getoverrun", "timer_gettime", "timer_gettime64", "timer_settime",
	"timer_settime64", "timerfd_create", "timerfd_gettime", "timerfd_gettime64",
	"timerfd_settime", "timerfd_settime64", "times", "tkill", "truncate", "truncate64",
	"ugetrlimit", "umask", "uname", "unlink", "unlinkat", "utime", "utimensat",
	"utimensat_time64", "utimes", "vfork", "vmsplice", "wait4", "waitid", "waitpid", "write",
	"writev",
	// "includes": {"minKernel": "4.8"}
	"process_vm_readv", "process_vm_writev", "ptrace",
}

// seccompByArch are moby's allow rules limited to architectures (GOARCH).
var seccompByArch = map[string][]string{
	"amd64": {"arch_prctl", "modify_ldt"},
	"386":   {"modify_ldt"},
	"arm":   {"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"},
	"arm64": {"arm_fadvise64_64", "arm_sync_file_range", "sync_file_range2", "breakpoint", "cacheflush", "set_tls"},
}

// seccompByCap are moby's allow rules that need a capability ("includes":
// {"caps": [...]}); a rule is in the filter when the step has the cap.
var seccompByCap = []struct {
	cap   int
	names []string
}{
	{unix.CAP_DAC_READ_SEARCH, []string{"open_by_handle_at"}},
	{unix.CAP_SYS_ADMIN, []string{"bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount",
		"fsopen", "fspick", "lookup_dcookie", "mount", "mount_setattr", "move_mount", "open_tree",
		"perf_event_open", "quotactl", "quotactl_fd", "setdomainname", "sethostname", "setns",
		"syslog", "umount", "umount2", "unshare"}},
	{unix.CAP_SYS_BOOT, []string{"reboot"}},
	{unix.CAP_SYS_CHROOT, []string{"chroot"}},
	{unix.CAP_SYS_MODULE, []string{"delete_module", "init_module", "finit_module"}},
	{unix.CAP_SYS_PACCT, []string{"acct"}},
	{unix.CAP_SYS_PTRACE, []string{"kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev", "ptrace"}},
	{unix.CAP_SYS_RAWIO, []string{"iopl", "ioperm"}},
	{unix.CAP_SYS_TIME, []string{"settimeofday", "stime", "clock_settime", "clock_settime64"}},
	{unix.CAP_SYS_TTY_CONFIG, []string{"vhangup"}},
	{unix.CAP_SYS_NICE, []string{"get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"}},
	{unix.CAP_SYSLOG, []string{"syslog"}},
	{unix.CAP_BPF, []string{"bpf"}},
	{unix.CAP_PERFMON, []string{"perf_event_open"}},
}

// cloneNamespaceFlags is moby's mask for clone without CAP_SYS_ADMIN:
// CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET (2114060288).
const cloneNamespaceFlags = 0x7E020000

// seccompPolicy builds moby's default profile for a step with caps.
func seccompPolicy(caps map[int]bool) (*seccomp.Policy, error) {
	info, err := arch.GetInfo(runtime.GOARCH)
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	seen := map[string]bool{}
	var allow []string
	add := func(names ...string) {
		for _, n := range names {
			if _, ok := info.SyscallNames[n]; ok && !seen[n] {
				seen[n] = true
				allow = append(allow, n)
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
	var conditional []seccomp.NameWithConditions
	cond := func(name string, c ...seccomp.Condition) {
		if _, ok := info.SyscallNames[name]; ok && !seen[name] {
			conditional = append(conditional, seccomp.NameWithConditions{Name: name, Conditions: c})
		}
	}
	// socket: anything but AF_VSOCK (40).
	cond("socket", seccomp.Condition{Argument: 0, Operation: seccomp.NotEqual, Value: 40})
	// personality: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, query.
	for _, v := range []uint64{0, 8, 0x20000, 0x20008, 0xffffffff} {
		cond("personality", seccomp.Condition{Argument: 0, Operation: seccomp.Equal, Value: v})
	}
	groups := []seccomp.SyscallGroup{{Names: allow, NamesWithCondtions: conditional, Action: seccomp.ActionAllow}}
	if !caps[unix.CAP_SYS_ADMIN] {
		// clone without namespace flags (s390 has the flags in arg 1).
		argIdx := uint32(0)
		if runtime.GOARCH == "s390x" {
			argIdx = 1
		}
		groups = append(groups, seccomp.SyscallGroup{
			NamesWithCondtions: []seccomp.NameWithConditions{{Name: "clone", Conditions: []seccomp.Condition{
				{Argument: argIdx, Operation: seccomp.BitsNotSet, Value: cloneNamespaceFlags}}}},
			Action: seccomp.ActionAllow,
		})
		// clone3 cannot be filtered by its flags: ENOSYS makes libc fall
		// back to clone.
		if _, ok := info.SyscallNames["clone3"]; ok {
			groups = append(groups, seccomp.SyscallGroup{Names: []string{"clone3"},
				Action: seccomp.ActionErrno | seccomp.Action(unix.ENOSYS)})
		}
	}
	return &seccomp.Policy{DefaultAction: seccomp.ActionErrno, Syscalls: groups}, nil
}

// loadDefaultSeccomp installs Docker's default profile on the calling
// process (all threads) for a step with Docker's default capabilities.
// As Docker does without no_new_privs it relies on CAP_SYS_ADMIN (of the
// step's user namespace at the rootless level), so it runs before the
// step's credentials are set; setgroups, setresuid, prctl and execve are
// allowed by the profile.
func loadDefaultSeccomp() error {
	p, err := seccompPolicy(defaultCaps())
	if err != nil {
		return err
	}
	if err := seccomp.LoadFilter(seccomp.Filter{Flag: seccomp.FilterFlagTSync, Policy: *p}); err != nil {
		return fmt.Errorf("install seccomp profile: %w", err)
	}
	return nil
}
