#!/usr/bin/env bash
# check-leaks.sh DIR: fail if any mount point or live process still refers to
# DIR (the TMPDIR a test run used): mounts under it, or processes whose cwd,
# root or command line is under it. Used by `make test` after `go test`.
set -euo pipefail
dir=$(realpath -m "${1:?usage: check-leaks.sh DIR}")
status=0

mounts=$(awk -v d="$dir" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo)
if [[ -n $mounts ]]; then
	echo "check-leaks: mounts left under $dir:" >&2
	echo "$mounts" >&2
	status=1
fi

for p in /proc/[0-9]*; do
	pid=${p#/proc/}
	[[ $pid == "$$" || $pid == "$BASHPID" ]] && continue
	state=$(awk '{ sub(/.*\) /, ""); print $1 }' "$p/stat" 2>/dev/null || true)
	[[ -z $state || $state == Z ]] && continue
	cwd=$(readlink "$p/cwd" 2>/dev/null || true)
	root=$(readlink "$p/root" 2>/dev/null || true)
	cmd=$( { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null || true)
	if [[ $cwd == "$dir"* || $root == "$dir"* || $cmd == *"$dir"* ]]; then
		case $cmd in *check-leaks.sh*) continue ;; esac
		echo "check-leaks: process left: $pid $cmd (cwd $cwd)" >&2
		status=1
	fi
done

# runc containers named by the test harness.
if command -v runc >/dev/null 2>&1; then
	left=$(runc list -q 2>/dev/null | grep '^testenv-' || true)
	if [[ -n $left ]]; then
		echo "check-leaks: runc containers left: $left" >&2
		status=1
	fi
fi
if ((status == 0)); then
	echo "check-leaks: nothing left under $dir" >&2
fi
exit $status
