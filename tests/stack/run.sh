#!/usr/bin/env bash
# npm run test:stack — the Compose stack on a real Docker engine.
#
# Starts a private dockerd (its own socket, exec root and data root, so it never meets a system
# Docker), builds the base-image stand-ins (tests/stack/standins.sh), runs the stack test
# (tests/stack/stack.test.ts: `docker-compose up -d --build` of docker-compose.yml with sign-in
# (AUTH_MODE=local, the first admin from the environment), LLAMA_API_KEY set, Redis with its generated password;
# health, the dashboard, sign-in through the TLS recipe and the Socket.IO API with the session
# cookie through the web container, a gateway restart, `down -v`), and stops dockerd by its PID on
# success and on failure.
#
# Needs root and Debian's docker.io, docker-compose (v1.29) and debootstrap.
# Environment:
#   LLAMAPROXY_DOCKER_ROOT  dockerd's data root, kept between runs as a build cache
#                           (default /var/lib/llamaproxy-stack-docker)
#   LLAMAPROXY_CACHE_DIR    cache of the Debian root tarball (default ~/.cache/llamaproxy)
#   STACK_KEEP=1            leave the stack up (and dockerd running) for a look; stop it yourself
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

log() { echo "[stack] $*"; }
die() { echo "[stack] error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "dockerd needs root"
for tool in dockerd docker docker-compose debootstrap; do
  command -v "$tool" > /dev/null || die "$tool is missing (Debian: apt-get install -y docker.io docker-compose debootstrap)"
done
[ -x node_modules/.bin/tsx ] || die "run npm ci first"

DATA_ROOT="${LLAMAPROXY_DOCKER_ROOT:-/var/lib/llamaproxy-stack-docker}"
RUN_DIR=$(mktemp -d /tmp/llamaproxy-dockerd.XXXXXX)
DOCKERD_PID=""

stop_dockerd() {
  local status=$?
  if [ -n "$DOCKERD_PID" ] && kill -0 "$DOCKERD_PID" 2> /dev/null; then
    if [ "${STACK_KEEP:-}" = 1 ] && [ "$status" = 0 ]; then
      log "STACK_KEEP=1: dockerd (pid $DOCKERD_PID) stays up: DOCKER_HOST=$DOCKER_HOST"
      return
    fi
    log "stopping dockerd (pid $DOCKERD_PID)"
    kill -TERM "$DOCKERD_PID" 2> /dev/null || true
    for _ in $(seq 1 60); do
      kill -0 "$DOCKERD_PID" 2> /dev/null || break
      sleep 1
    done
    if kill -0 "$DOCKERD_PID" 2> /dev/null; then
      log "dockerd did not stop within 60 s: SIGKILL"
      kill -KILL "$DOCKERD_PID" 2> /dev/null || true
    fi
    wait "$DOCKERD_PID" 2> /dev/null || true
  fi
  if [ "$status" != 0 ] && [ -f "$RUN_DIR/dockerd.log" ]; then
    echo "--- last lines of dockerd's log" >&2
    tail -n 30 "$RUN_DIR/dockerd.log" >&2
  fi
  rm -rf "$RUN_DIR"
}
trap stop_dockerd EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$DATA_ROOT"
log "starting dockerd (data root $DATA_ROOT)"
dockerd \
  --host "unix://$RUN_DIR/docker.sock" \
  --data-root "$DATA_ROOT" \
  --exec-root "$RUN_DIR/exec" \
  --pidfile "$RUN_DIR/dockerd.pid" \
  --log-level warn \
  > "$RUN_DIR/dockerd.log" 2>&1 &
DOCKERD_PID=$!
export DOCKER_HOST="unix://$RUN_DIR/docker.sock"

# The docker CLI that came with this dockerd (Debian's docker.io), ahead of any newer one on PATH,
# for the stand-ins and for docker-compose's builds: the same version as the engine, and no
# "legacy builder is deprecated" notice on every build.
if [ -x /usr/bin/docker ]; then
  mkdir -p "$RUN_DIR/bin"
  ln -s /usr/bin/docker "$RUN_DIR/bin/docker"
  export PATH="$RUN_DIR/bin:$PATH"
fi

for _ in $(seq 1 60); do
  if docker version --format '{{.Server.Version}}' > /dev/null 2>&1; then
    break
  fi
  kill -0 "$DOCKERD_PID" 2> /dev/null || die "dockerd exited at start-up"
  sleep 1
done
docker version --format 'dockerd {{.Server.Version}} (API {{.Server.APIVersion}})' > /dev/null 2>&1 \
  || die "dockerd did not answer within 60 s"
log "dockerd $(docker version --format '{{.Server.Version}}') pid $DOCKERD_PID; $(docker-compose version --short 2> /dev/null | sed 's/^/docker-compose /')"

# The data root doubles as the build cache; images left dangling by older builds go after 2 days.
docker image prune --force --filter until=48h > /dev/null

started=$(date +%s)
bash tests/stack/standins.sh
log "stand-ins ready in $(($(date +%s) - started)) s"

node_modules/.bin/tsx --conditions=development tests/stack/stack.test.ts
