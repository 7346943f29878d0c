#!/usr/bin/env bash
# image/build.sh BUILDER STATIC_BUILDER OUT_TAR [TAG]: build builder's own image
# (image/Dockerfile) with BUILDER into an OCI tar, with STATIC_BUILDER (a
# CGO_ENABLED=0 build) as /usr/local/bin/builder. Reproducible: with
# SOURCE_DATE_EPOCH (default: 0) and rewrite-timestamp the same inputs give the
# same digest. Needs Debian's ca-certificates, uidmap and libcap2-bin. Used by `make image`
# and the e2e tests.
set -euo pipefail
builder=${1:?usage: build.sh BUILDER STATIC_BUILDER OUT_TAR [TAG]}
static=${2:?usage: build.sh BUILDER STATIC_BUILDER OUT_TAR [TAG]}
out=${3:?usage: build.sh BUILDER STATIC_BUILDER OUT_TAR [TAG]}
tag=${4:-builder:latest}
here=$(cd "$(dirname "$0")" && pwd)
certs=/etc/ssl/certs/ca-certificates.crt
[[ -s $certs ]] || { echo "build.sh: no $certs (apt-get install ca-certificates)" >&2; exit 1; }
if file "$static" 2>/dev/null | grep -q 'dynamically linked'; then
	echo "build.sh: $static is dynamically linked (build it with CGO_ENABLED=0)" >&2
	exit 1
fi

ctx=$(mktemp -d "${TMPDIR:-/tmp}/builder-image.XXXXXX")
trap 'rm -rf "$ctx"' EXIT
r=$ctx/rootfs
install -d -m 0755 "$r/etc/ssl/certs" "$r/usr/local/bin" "$r/usr/bin" "$r/tmp" \
	"$ctx/home/builder/.local/share/builder" "$ctx/workspace"
chmod 1777 "$r/tmp"
install -m 0644 "$here/passwd" "$here/group" "$here/subuid" "$here/subgid" "$r/etc/"
install -m 0644 "$certs" "$r/etc/ssl/certs/ca-certificates.crt"
install -m 0755 "$static" "$r/usr/local/bin/builder"
# newuidmap/newgidmap map builder's subordinate range at the rootless level.
# They get file capabilities (cap_setuid / cap_setgid), not the setuid bit:
# run setuid from a container whose bounding set lacks CAP_SYS_ADMIN (Docker's
# default), Debian's helpers cannot write the map of a namespace owned by the
# user. The capabilities travel as xattrs in uidmap.tar (ADD keeps them).
command -v setcap >/dev/null || { echo "build.sh: no setcap (apt-get install libcap2-bin)" >&2; exit 1; }
u=$ctx/uidmap
install -d -m 0755 "$u/usr/bin"
for tool in newuidmap newgidmap; do
	src=$(command -v "$tool") || { echo "build.sh: no $tool (apt-get install uidmap)" >&2; exit 1; }
	install -m 0755 "$src" "$u/usr/bin/$tool"
	for lib in $(ldd "$src" | grep -o '/[^ ]*'); do
		install -D -m 0755 "$lib" "$r$lib"
	done
done
setcap cap_setuid+ep "$u/usr/bin/newuidmap"
setcap cap_setgid+ep "$u/usr/bin/newgidmap"
# Fixed times, so the image digest depends on the content only.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-0}
find "$ctx" -exec touch -h -d @"$SOURCE_DATE_EPOCH" {} +
tar --xattrs --xattrs-include='security.capability' --numeric-owner --owner=0 --group=0 --sort=name \
	-C "$u" -cf "$ctx/uidmap.tar" usr
rm -rf "$u"

"$builder" build --progress plain -f "$here/Dockerfile" -t "$tag" \
	-o "type=oci,dest=$out,rewrite-timestamp=true" "$ctx"
