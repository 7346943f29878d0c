#!/usr/bin/env bash
# Install what builder's tests, demo and benchmark need from Debian 12's
# archive. Idempotent: installs only what is missing; does nothing (and needs
# no network) when everything is present.
set -euo pipefail

# uidmap (newuidmap, newgidmap) and fuse-overlayfs: the rootless level; libcap2-bin
# (setcap): the file capabilities of those helpers in `make image`.
packages=(docker-registry skopeo umoci runc busybox-static jq apache2-utils openssl buildah ca-certificates uidmap fuse-overlayfs libcap2-bin)

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
