#!/usr/bin/env bash
# Backs up the stack's state while it runs:
#   <dest>/llamaproxy-<time>/llamaproxy.db   the gateway's SQLite database (settings, logs,
#                                            metrics history), copied with SQLite's online backup,
#                                            so it is consistent even while the gateway writes
#   <dest>/llamaproxy-<time>/supervisor/     the supervisor's preset file and router settings
# Redis only holds jobs in flight and the event streams; it is not needed to restore.
#
#   deploy/backup.sh [dest]            (default ./backups; run it beside docker-compose.yml)
#
# COMPOSE overrides the compose command, e.g. COMPOSE="docker-compose -p myproject".
# Restoring is in deploy/gpu-homelab.md ("Backups").
set -euo pipefail

dest="${1:-./backups}"

if [ -n "${COMPOSE:-}" ]; then
  read -r -a compose <<< "$COMPOSE"
elif docker compose version > /dev/null 2>&1; then
  compose=(docker compose)
else
  compose=(docker-compose)
fi

container_of() {
  local id
  id=$("${compose[@]}" ps -q "$1")
  [ -n "$id" ] || { echo "backup: the $1 service is not running (start the stack first)" >&2; exit 1; }
  echo "$id"
}

gateway=$(container_of gateway)
supervisor=$(container_of supervisor)
stamp=$(date -u +%Y%m%dT%H%M%SZ)
target="$dest/llamaproxy-$stamp"
mkdir -p "$target"

# SQLite's backup API through the gateway's own better-sqlite3, into the data volume, then out.
snapshot="/data/.backup-$stamp.db"
docker exec "$gateway" node -e '
  const Database = require("better-sqlite3");
  const db = new Database("/data/llamaproxy.db", { readonly: true, fileMustExist: true });
  db.backup(process.argv[1]).then(() => db.close(), (err) => { console.error(err.message); process.exit(1); });
' "$snapshot"
docker cp "$gateway:$snapshot" "$target/llamaproxy.db"
docker exec "$gateway" rm -f "$snapshot"

docker cp "$supervisor:/var/lib/llamaproxy/." "$target/supervisor"

echo "backup: $target"
ls -l "$target" "$target/supervisor"
