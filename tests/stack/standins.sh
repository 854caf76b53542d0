#!/usr/bin/env bash
# Builds local stand-ins for the base images that the compose stack names, on the Docker engine
# at $DOCKER_HOST. No image registry is reachable from CI or the development machines, so each
# base image is made here under its exact name (read from `docker-compose config`, so the compose
# file and the Dockerfiles stay the single source of the tags):
#
#   node:<v>-bookworm-slim          Debian bookworm + this machine's Node and npm (+ CA bundle)
#   node:<v>-bookworm               the above + build-essential and python3 (node-gyp)
#   ghcr.io/ggml-org/llama.cpp:...  Debian + libgomp1/curl + the llama-server built for the tests
#   redis:<tag>                     Debian's redis-server, laid out like the official image
#   nginxinc/nginx-unprivileged:... Debian's nginx, laid out like the unprivileged image
#
# All start from one Debian root made with `debootstrap --variant=minbase bookworm`, cached as a
# tarball in ~/.cache/llamaproxy/standins (one a month) and imported with `docker import`. A
# stand-in is rebuilt only when what goes into it changes (a content hash kept as an image label).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

CACHE_DIR="${LLAMAPROXY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/llamaproxy}/standins"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CA_BUNDLE="${STANDIN_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
STANDINS="$ROOT/tests/stack/standins"
LABEL=org.llamaproxy.standin

log() { echo "[standins] $*"; }
die() { echo "[standins] error: $*" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/llamaproxy-standins.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

compose_args=(-f docker-compose.yml)
if [ -n "${STACK_ENV_FILE:-}" ]; then
  compose_args=(--env-file "$STACK_ENV_FILE" "${compose_args[@]}")
fi

# One value of a key in the resolved compose file; every occurrence must agree.
config_value() {
  local key=$1 values
  values=$(sed -n "s/^ *$key: *//p" "$WORK/compose.yml" | tr -d "'\"" | sort -u)
  [ -n "$values" ] || die "no $key in the compose file"
  [ "$(wc -l <<< "$values")" -eq 1 ] || die "$key differs between services: $(tr '\n' ' ' <<< "$values")"
  echo "$values"
}

# Content hash of a build context (names, modes and bytes), plus any extra words.
context_key() {
  local dir=$1
  shift
  { tar -C "$dir" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - . ; echo "$*"; } | sha256sum | cut -c1-16
}

# Builds image $1 from context $2 with base $3 unless an image with the same content hash exists.
build_standin() {
  local name=$1 context=$2 base=$3 key current
  key=$(context_key "$context" "$base")
  current=$(docker image inspect -f "{{ index .Config.Labels \"$LABEL.key\" }}" "$name" 2>/dev/null || true)
  if [ "$current" = "$key" ]; then
    log "$name: up to date ($key)"
    return
  fi
  log "$name: building ($key)"
  docker build --quiet --tag "$name" --build-arg "BASE_IMAGE=${base%:*}" --build-arg "BASE_TAG=${base##*:}" \
    --label "$LABEL=true" --label "$LABEL.key=$key" "$context" > /dev/null
}

# ---------------------------------------------------------------------------------------------
log "reading image names from docker-compose.yml"
docker-compose "${compose_args[@]}" config > "$WORK/compose.yml"
node_version=$(config_value NODE_VERSION)
llama_image="ghcr.io/ggml-org/llama.cpp:$(config_value LLAMA_CPP_IMAGE_TAG)"
nginx_image="nginxinc/nginx-unprivileged:$(config_value NGINX_TAG)"
redis_image=$(sed -n 's/^ *image: *\(redis:.*\)$/\1/p' "$WORK/compose.yml" | tr -d "'\"")
[ -n "$redis_image" ] || die "no redis image in the compose file"

# --- the Debian root --------------------------------------------------------------------------
month=$(date -u +%Y-%m)
base_image="llamaproxy-standin/debian:bookworm-minbase-$month"
base_tar="$CACHE_DIR/debian-bookworm-minbase-$month.tar"
if docker image inspect "$base_image" > /dev/null 2>&1; then
  log "$base_image: present"
else
  if [ ! -f "$base_tar" ]; then
    command -v debootstrap > /dev/null || die "debootstrap is missing (apt-get install debootstrap)"
    log "debootstrap --variant=minbase bookworm from $DEBIAN_MIRROR (once a month, about 2 minutes)"
    mkdir -p "$CACHE_DIR"
    rootfs="$WORK/rootfs"
    debootstrap --variant=minbase bookworm "$rootfs" "$DEBIAN_MIRROR" > "$WORK/debootstrap.log" 2>&1 \
      || { tail -n 30 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
    # What the host put there, and what an image should not carry.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/* "$rootfs"/etc/hostname
    : > "$rootfs/etc/resolv.conf"
    tar -C "$rootfs" --numeric-owner -cf "$base_tar.partial" .
    mv "$base_tar.partial" "$base_tar"
    rm -rf "$rootfs"
    find "$CACHE_DIR" -maxdepth 1 -name 'debian-bookworm-minbase-*.tar' ! -name "$(basename "$base_tar")" -delete
  fi
  log "docker import $base_tar"
  docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' "$base_tar" "$base_image" > /dev/null
  # Earlier months' roots.
  docker image ls --format '{{.Repository}}:{{.Tag}}' llamaproxy-standin/debian | grep -vxF "$base_image" | xargs -r docker image rm > /dev/null || true
fi

# --- node:<v>-bookworm-slim and node:<v>-bookworm ---------------------------------------------
node_bin=$(command -v node)
node_bin=$(readlink -f "$node_bin")
host_node_version=$(node --version)
if [ "$host_node_version" != "v$node_version" ]; then
  log "note: this machine has Node $host_node_version; the stand-in tagged $node_version carries it"
fi
npm_dir=$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)
node_include=""
for candidate in "$(dirname "$node_bin")/../include/node" /usr/include/node /usr/local/include/node; do
  if [ -f "$candidate/node_api.h" ]; then
    node_include=$(cd "$candidate" && pwd)
    break
  fi
done
[ -n "$node_include" ] || die "Node's headers (include/node) are missing: node-gyp needs them in the image"
[ -f "$CA_BUNDLE" ] || die "no CA bundle at $CA_BUNDLE (set STANDIN_CA_BUNDLE)"

ctx="$WORK/node"
cp -a "$STANDINS/node" "$ctx"
cp "$node_bin" "$ctx/node"
cp -a "$npm_dir" "$ctx/npm"
cp -a "$node_include" "$ctx/include"
cp "$CA_BUNDLE" "$ctx/ca-bundle.crt"
build_standin "node:$node_version-bookworm-slim" "$ctx" "$base_image"
build_standin "node:$node_version-bookworm" "$STANDINS/node-build" "node:$node_version-bookworm-slim"

# --- llama.cpp's server image -------------------------------------------------------------------
llama_bin="${LLAMA_SERVER_BIN:-}"
if [ -z "$llama_bin" ]; then
  llama_bin=$(node_modules/.bin/tsx --conditions=development tests/src/cli/llama-server.ts ensure \
    | sed -n 's/^\[llama-server\] using \(.*\)$/\1/p' | sed 's/ (from [a-z]*)$//' | tail -n 1)
fi
[ -x "$llama_bin" ] || die "no llama-server binary (got '$llama_bin')"
ctx="$WORK/llama"
cp -a "$STANDINS/llama-cpp-server" "$ctx"
mkdir -p "$ctx/app"
cp "$llama_bin" "$ctx/app/llama-server"
# Shared libraries of llama.cpp's own (a build with BUILD_SHARED_LIBS) go beside the binary, as in
# the real image; the system's (libgomp, libstdc++, libc) come from Debian's packages.
ldd "$llama_bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | while read -r lib; do
  case "$lib" in
    /lib/* | /lib64/* | /usr/lib/* | /usr/lib64/*) ;;
    *) cp -L "$lib" "$ctx/app/" ;;
  esac
done
build_standin "$llama_image" "$ctx" "$base_image"

# --- redis and nginx ----------------------------------------------------------------------------
build_standin "$redis_image" "$STANDINS/redis" "$base_image"
build_standin "$nginx_image" "$STANDINS/nginx" "$base_image"

log "ready: node:$node_version-bookworm-slim node:$node_version-bookworm $llama_image $redis_image $nginx_image"
