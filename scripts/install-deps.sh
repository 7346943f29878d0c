#!/usr/bin/env bash
# Install what builder's tests, demo and benchmark need from Debian 12's
# archive. Idempotent: installs only what is missing; does nothing (and needs
# no network) when everything is present.
set -euo pipefail

# uidmap (newuidmap, newgidmap) and fuse-overlayfs: the rootless level; libcap2-bin
# (setcap): the file capabilities of those helpers in `make image`;
# qemu-user-static: RUN steps of other platforms (handlers registered below);
# rpm (rpmbuild, rpm 4.18): the rpmdb.sqlite the SBOM tests build and read.
packages=(docker-registry skopeo umoci runc busybox-static jq apache2-utils openssl buildah ca-certificates uidmap fuse-overlayfs libcap2-bin qemu-user-static rpm)

missing=()
for p in "${packages[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing+=("$p")
	fi
done

if ((${#missing[@]} > 0)); then
	if [[ $(id -u) -ne 0 ]]; then
		echo "install-deps: missing ${missing[*]}; run as root" >&2
		exit 1
	fi
	echo "install-deps: installing ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends "${missing[@]}"
fi

# Multi-platform tests: an arm64 busybox (Debian's busybox-static:arm64,
# unpacked, never installed) and qemu's binfmt_misc handlers. A registration
# is global to the machine: add only those that are missing, and leave them.
arm64_busybox=/var/cache/builder-test/busybox-arm64/bin/busybox
if [[ ! -x $arm64_busybox && $(id -u) -eq 0 ]]; then
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		dpkg --add-architecture arm64
		apt-get update
	fi
	dl=$(mktemp -d)
	chmod 755 "$dl" # apt-get download drops to _apt
	if ! (cd "$dl" && apt-get download busybox-static:arm64); then
		apt-get update
		(cd "$dl" && apt-get download busybox-static:arm64)
	fi
	mkdir -p /var/cache/builder-test
	rm -rf /var/cache/builder-test/busybox-arm64.tmp
	dpkg-deb -x "$dl"/busybox-static_*_arm64.deb /var/cache/builder-test/busybox-arm64.tmp
	mv -T /var/cache/builder-test/busybox-arm64.tmp /var/cache/builder-test/busybox-arm64
	rm -rf "$dl"
fi
if [[ $(id -u) -eq 0 ]]; then
	if [[ ! -e /proc/sys/fs/binfmt_misc/register ]]; then
		mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || true
	fi
	if [[ -w /proc/sys/fs/binfmt_misc/register ]]; then
		for conf in /usr/lib/binfmt.d/qemu-*.conf; do
			[[ -e $conf ]] || continue
			name=$(cut -d: -f2 "$conf")
			if [[ ! -e /proc/sys/fs/binfmt_misc/$name ]]; then
				# Another process may register it at the same time: only
				# the result matters.
				cat "$conf" >/proc/sys/fs/binfmt_misc/register 2>/dev/null || [[ -e /proc/sys/fs/binfmt_misc/$name ]]
			fi
		done
	fi
fi

# Debian's docker-registry package may start its own service on install;
# tests start their own registries, so keep the packaged one out of the way.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
	systemctl stop docker-registry || true
fi

# Go: prefer the toolchain in /usr/local/go (what go.mod asks for).
export PATH="$PATH:/usr/local/go/bin"
if ! command -v go >/dev/null 2>&1; then
	if [[ $(id -u) -ne 0 ]]; then
		echo "install-deps: no Go toolchain; run as root or install Go into /usr/local/go" >&2
		exit 1
	fi
	echo "install-deps: NOTE: no Go found in PATH or /usr/local/go/bin; installing Debian's golang" >&2
	echo "install-deps: NOTE: Debian's Go is older than go.mod's; GOTOOLCHAIN=auto will fetch the right one" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update
	apt-get install -y --no-install-recommends golang-go
fi
echo "install-deps: ok ($(go version))" >&2
