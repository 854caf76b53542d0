#!/bin/sh
# Entry point of the redis stand-in, doing what the official image's does for our use:
# flags alone mean redis-server, files made private (umask 077), root drops to "redis".
# The official image's redis-server is built with protected mode off (the container network is
# the boundary); Debian's is not, so the stand-in turns it off on the command line.
set -eu

if [ "${1#-}" != "$1" ]; then
  set -- redis-server "$@"
fi

if [ "$(umask)" = '0022' ]; then
  umask 0077
fi

if [ "$1" = 'redis-server' ]; then
  shift
  set -- redis-server --protected-mode no "$@"
  if [ "$(id -u)" = '0' ]; then
    find . \! -user redis -exec chown redis '{}' +
    exec setpriv --reuid=redis --regid=redis --init-groups "$@"
  fi
fi

exec "$@"
