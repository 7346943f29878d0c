#!/usr/bin/env bash
# busybox-layout.sh DIR: write an OCI image layout (tag "latest") of a
# busybox rootfs made from Debian's busybox-static, with umoci. The same
# image the Go harness makes (internal/testenv.BusyboxLayout): applet
# symlinks to /bin/busybox, root/user/nobody in /etc/passwd, group staff (50)
# listing user, /tmp 1777, /root 0700, /home/user 1000:1000, mtimes fixed to
# 2000-01-01. Needs root (for ownership) and umoci.
set -euo pipefail
out=${1:?usage: busybox-layout.sh DIR}
epoch=2000-01-01T00:00:00Z
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

umoci init --layout "$out"
umoci new --image "$out:latest"
umoci unpack --image "$out:latest" "$work/bundle"
r=$work/bundle/rootfs
mkdir -p "$r"/{bin,dev,etc,home/user,proc,root,sys,tmp,usr/bin,var}
install -m 0755 /bin/busybox "$r/bin/busybox"
for a in $(/bin/busybox --list); do
	[[ $a == busybox || $a == */* ]] && continue
	ln -sf /bin/busybox "$r/bin/$a"
done
cat >"$r/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
user:x:1000:1000:user:/home/user:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
P
cat >"$r/etc/group" <<'G'
root:x:0:
staff:x:50:user
user:x:1000:
nogroup:x:65534:
G
chmod 0644 "$r/etc/passwd" "$r/etc/group"
chmod 1777 "$r/tmp"
chmod 0700 "$r/root"
chown 1000:1000 "$r/home/user"
find "$r" -exec touch -h -d "$epoch" {} +
umoci repack --image "$out:latest" --history.created "$epoch" \
	--history.created_by "busybox-static rootfs" "$work/bundle"
umoci config --image "$out:latest" --created "$epoch" --history.created "$epoch" \
	--history.created_by 'CMD ["/bin/sh"]' \
	--config.cmd /bin/sh \
	--config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umoci gc --layout "$out"
