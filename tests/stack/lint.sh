#!/usr/bin/env bash
# Static checks of the Compose stack, no Docker engine needed:
#   - docker-compose (v1.29) `config -q` of the stack alone and with every overlay
#   - dclint: the current compose-spec schema and its rules, on every compose file
#   - every ${KEY} the compose files read is documented in deploy/.env.example, and back
#   - dockerfile-utils lint and dockerfilelint on every Dockerfile (services and stand-ins)
#   - shellcheck on every shell script of the stack
#   - `nginx -t` of deploy/reverse-proxy/nginx.conf (when nginx is installed)
#   - tsc on the stack test
# The npm linters are installed once, at pinned versions, into ~/.cache/llamaproxy/lint-tools.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT"

TOOLS_DIR="${LLAMAPROXY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/llamaproxy}/lint-tools"
TOOLS=(dclint@3.1.0 dockerfile-utils@0.16.3 dockerfilelint@1.8.0)

failures=0
# Runs a check; its output is shown only when it fails.
check() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then
    echo "[lint] ok    $name"
  else
    echo "[lint] FAIL  $name"
    printf '  | %s\n' "${out//$'\n'/$'\n  | '}"
    failures=$((failures + 1))
  fi
}

# --- tools ---------------------------------------------------------------------------------------
for tool in docker-compose shellcheck; do
  command -v "$tool" > /dev/null || { echo "[lint] $tool is missing (Debian: apt-get install -y docker-compose shellcheck)" >&2; exit 1; }
done
if [ "$(cat "$TOOLS_DIR/.installed" 2> /dev/null || true)" != "${TOOLS[*]}" ]; then
  echo "[lint] installing ${TOOLS[*]} into $TOOLS_DIR"
  mkdir -p "$TOOLS_DIR"
  npm install --prefix "$TOOLS_DIR" --no-audit --no-fund --no-save --loglevel=error "${TOOLS[@]}" > /dev/null
  echo "${TOOLS[*]}" > "$TOOLS_DIR/.installed"
fi
BIN="$TOOLS_DIR/node_modules/.bin"

COMPOSE_FILES=(docker-compose.yml docker-compose.gpu.yml deploy/compose/*.yml deploy/reverse-proxy/traefik.yml)
DOCKERFILES=(services/*/Dockerfile tests/stack/standins/*/Dockerfile)
SHELL_SCRIPTS=(tests/stack/*.sh tests/stack/standins/*/*.sh deploy/*.sh)
# Required by the Traefik recipe only; any value does for `config`.
export TRAEFIK_DOMAIN="${TRAEFIK_DOMAIN:-llama.example.com}" TRAEFIK_ACME_EMAIL="${TRAEFIK_ACME_EMAIL:-admin@example.com}"

# --- compose -------------------------------------------------------------------------------------
# Interpolated with the example settings, not with a local .env.
compose_config() {
  local args=(--env-file deploy/.env.example)
  for file in "$@"; do
    args+=(-f "$file")
  done
  docker-compose "${args[@]}" config -q
}
check "docker-compose config: docker-compose.yml" compose_config docker-compose.yml
check "docker-compose config: + docker-compose.gpu.yml" compose_config docker-compose.yml docker-compose.gpu.yml
for overlay in deploy/compose/*.yml deploy/reverse-proxy/traefik.yml; do
  check "docker-compose config: + docker-compose.gpu.yml + $overlay" compose_config docker-compose.yml docker-compose.gpu.yml "$overlay"
done

# A top-level `name:` is not accepted by docker-compose v1.29; everything else must pass cleanly.
check "dclint ${COMPOSE_FILES[*]}" \
  "$BIN/dclint" --disable-rule require-project-name-field --max-warnings 0 "${COMPOSE_FILES[@]}"

env_keys_documented() {
  local used documented missing unused
  # shellcheck disable=SC2016 # a literal "${" in the pattern
  used=$(grep -ho '\${[A-Z][A-Z0-9_]*' "${COMPOSE_FILES[@]}" | cut -c3- | sort -u)
  documented=$(sed -n 's/^#\{0,1\}\([A-Z][A-Z0-9_]*\)=.*/\1/p' deploy/.env.example | sort -u)
  missing=$(comm -23 <(echo "$used") <(echo "$documented"))
  unused=$(comm -13 <(echo "$used") <(echo "$documented") | grep -vx 'COMPOSE_FILE' || true)
  [ -z "$missing" ] || echo "[lint] not in deploy/.env.example: $(echo "$missing" | tr '\n' ' ')"
  [ -z "$unused" ] || echo "[lint] in deploy/.env.example but read by no compose file: $(echo "$unused" | tr '\n' ' ')"
  [ -z "$missing" ] && [ -z "$unused" ]
}
check "deploy/.env.example documents every key the compose files read" env_keys_documented

# --- Dockerfiles ---------------------------------------------------------------------------------
# dockerfile-utils prints its findings and exits 0: any output is a finding.
dockerfile_utils() {
  local out
  out=$("$BIN/dockerfile-utils" lint "$1")
  [ -z "$out" ] || { echo "$out"; return 1; }
}
for file in "${DOCKERFILES[@]}"; do
  check "dockerfile-utils lint $file" dockerfile_utils "$file"
  check "dockerfilelint $file" "$BIN/dockerfilelint" "$file"
done

# --- shell ---------------------------------------------------------------------------------------
check "shellcheck ${SHELL_SCRIPTS[*]}" shellcheck "${SHELL_SCRIPTS[@]}"

# --- the nginx recipe ----------------------------------------------------------------------------
nginx_recipe() {
  local dir status=0
  dir=$(mktemp -d)
  openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=llama.example.com \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" 2> /dev/null
  sed -e "s#/etc/letsencrypt/live/llama.example.com/fullchain.pem#$dir/cert.pem#" \
    -e "s#/etc/letsencrypt/live/llama.example.com/privkey.pem#$dir/key.pem#" \
    deploy/reverse-proxy/nginx.conf > "$dir/site.conf"
  printf 'pid %s/nginx.pid;\nerror_log stderr;\nevents {}\nhttp {\n  access_log off;\n  include %s/site.conf;\n}\n' \
    "$dir" "$dir" > "$dir/nginx.conf"
  nginx -t -q -p "$dir" -c "$dir/nginx.conf" || status=$?
  rm -rf "$dir"
  return "$status"
}
if command -v nginx > /dev/null && command -v openssl > /dev/null; then
  check "nginx -t deploy/reverse-proxy/nginx.conf" nginx_recipe
else
  echo "[lint] skip  nginx -t deploy/reverse-proxy/nginx.conf (no nginx or openssl here)"
fi

# --- the stack test ------------------------------------------------------------------------------
check "tsc -p tests/stack/tsconfig.json" node_modules/.bin/tsc -p tests/stack/tsconfig.json

if [ "$failures" -gt 0 ]; then
  echo "[lint] $failures check(s) failed"
  exit 1
fi
echo "[lint] all checks passed"
