#!/usr/bin/env bash
# demo.sh: build testdata/dockerfiles/demo (multi-stage, RUN steps) with
# bin/builder on top of a busybox image served by a temporary
# docker-registry on 127.0.0.1, into a temporary store; then list the store
# and print the image's config and layers, run it, and end with its history
# and size report. Everything is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
builder=$repo/bin/builder
[[ -x $builder ]] || { echo "demo: $builder missing; run make build" >&2; exit 1; }

tmp=$(mktemp -d /tmp/builder-demo.XXXXXX)
regpid=
cleanup() {
	if [[ -n $regpid ]]; then
		kill -TERM -- "-$regpid" 2>/dev/null || true
		wait "$regpid" 2>/dev/null || true
	fi
	if "$repo/scripts/check-leaks.sh" "$tmp"; then
		rm -rf "$tmp"
	else
		echo "demo: left $tmp in place for inspection" >&2
	fi
}
trap cleanup EXIT

http_status() { # http_status PORT -> status code of GET /v2/
	exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
	printf 'GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
	local line
	read -r line <&3 || true
	exec 3<&-
	echo "$line" | awk '{print $2}'
}

echo "== base image: busybox-static as an OCI layout (umoci)"
scripts/busybox-layout.sh "$tmp/busybox" >/dev/null

echo "== registry on 127.0.0.1"
for _ in 1 2 3 4 5; do
	port=$((20000 + RANDOM % 30000))
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue # in use
	mkdir -p "$tmp/registry"
	cat >"$tmp/registry/config.yml" <<CFG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $tmp/registry/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
CFG
	setsid docker-registry serve "$tmp/registry/config.yml" >"$tmp/registry/log" 2>&1 &
	regpid=$!
	for _ in $(seq 100); do
		[[ $(http_status "$port" 2>/dev/null) == 200 ]] && break 2
		kill -0 "$regpid" 2>/dev/null || break
		sleep 0.1
	done
	kill -TERM -- "-$regpid" 2>/dev/null || true
	wait "$regpid" 2>/dev/null || true
	regpid=
done
[[ -n $regpid ]] || { echo "demo: docker-registry did not start" >&2; cat "$tmp/registry/log" >&2; exit 1; }
base=127.0.0.1:$port/busybox:latest
skopeo copy --quiet --dest-tls-verify=false "oci:$tmp/busybox:latest" "docker://$base"
echo "pushed $base"

echo "== builder build"
"$builder" --root "$tmp/root" build --progress plain -t demo:latest \
	--build-arg "BASE=$base" -f testdata/dockerfiles/demo/Dockerfile testdata/dockerfiles/demo/context

echo "== builder images"
"$builder" --root "$tmp/root" images

layout=$tmp/root/oci
manifest=$(jq -r '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] | test("(^|/)demo:latest$")) | .digest' "$layout/index.json" | head -1)
[[ -n $manifest ]] || { echo "demo: demo:latest not found in $layout/index.json" >&2; exit 1; }
blob() { echo "$layout/blobs/${1%%:*}/${1#*:}"; }
echo "== manifest $manifest: layers"
jq -r '.layers[] | "\(.digest)  \(.size) bytes  \(.mediaType)"' "$(blob "$manifest")"
config=$(jq -r .config.digest "$(blob "$manifest")")
echo "== config $config"
jq '{architecture, os, config, history: [.history[] | {created_by, empty_layer: (.empty_layer // false)}]}' "$(blob "$config")"

echo "== run it (umoci + runc)"
umoci unpack --image "$layout:$(jq -r --arg d "$manifest" '.manifests[] | select(.digest == $d) | .annotations["org.opencontainers.image.ref.name"]' "$layout/index.json" | head -1)" "$tmp/bundle" >/dev/null
jq '.process.terminal = false' "$tmp/bundle/config.json" >"$tmp/bundle/config.json.new"
mv "$tmp/bundle/config.json.new" "$tmp/bundle/config.json"
id=builder-demo-$$
runc run --bundle "$tmp/bundle" "$id" || echo "demo: container exited with $?"
runc delete -f "$id" 2>/dev/null || true

echo "== builder history"
"$builder" --root "$tmp/root" history demo:latest

echo "== where the bytes went (builder inspect --size)"
"$builder" --root "$tmp/root" inspect --size demo:latest
