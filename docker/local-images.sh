#!/usr/bin/env bash
# Build the base images the tests need without pulling anything: debootstrap a
# Debian root per image and `docker import` it.  Idempotent: an image that
# exists with the current recipe stamp is skipped (use --force to rebuild).
#
#   local/python-slim   python3 + venv: the runtime base (stands for python:3.12-slim)
#   local/python-build  + compilers and headers: the builder base (stands for python:3.12)
#   local/nginx         nginx in the foreground, logs to stdout (stands for nginx:1.27)
#   local/postgres      PostgreSQL 15 with the official image's env contract (stands for postgres:16)
#
# Usage: docker/local-images.sh [--force] [IMAGE...]
set -euo pipefail

SUITE=bookworm
RECIPE=2  # bump when a recipe below changes, so existing images are rebuilt
CACHE=${GANGWAY_IMAGE_CACHE:-/var/cache/gangway-images}
FORCE=0
want=()
for arg in "$@"; do
  case "$arg" in
    --force) FORCE=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    local/*) want+=("$arg") ;;
    *) echo "local-images: unknown argument '$arg' (expected --force or an image such as local/python-slim)" >&2; exit 2 ;;
  esac
done
[ ${#want[@]} -gt 0 ] || want=(local/python-slim local/python-build local/nginx local/postgres)

for tool in debootstrap docker; do
  command -v "$tool" >/dev/null || { echo "local-images: '$tool' is missing; install it with: apt-get install ${tool/docker/docker.io}" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "local-images: debootstrap needs root" >&2; exit 1; }

# Use the mirror this machine's apt already uses; debootstrap's default otherwise.
MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$MIRROR" ] || MIRROR=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)

packages_for() {
  case "$1" in
    local/python-slim)  echo "python3,python3-venv,ca-certificates,tzdata" ;;
    local/python-build) echo "python3,python3-venv,python3-dev,ca-certificates,tzdata,build-essential,libpq-dev,git" ;;
    local/nginx)        echo "nginx,ca-certificates" ;;
    local/postgres)     echo "postgresql-15,postgresql-client-15,tzdata" ;;
  esac
}

changes_for() {
  case "$1" in
    local/python-slim|local/python-build)
      printf '%s\n' 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' 'ENV LANG=C.UTF-8' 'CMD ["python3"]' ;;
    local/nginx)
      printf '%s\n' 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' 'EXPOSE 80' 'CMD ["nginx", "-g", "daemon off;"]' ;;
    local/postgres)
      printf '%s\n' 'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' 'ENV PGDATA=/var/lib/postgresql/data' 'ENV LANG=C.UTF-8' 'EXPOSE 5432' 'ENTRYPOINT ["docker-entrypoint.sh"]' 'CMD ["postgres"]' ;;
  esac
}

# Per-image finishing touches inside the root, before it is imported.
finish_root() {
  local image=$1 root=$2
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb
  case "$image" in
    local/nginx)
      # Like the official image: one default server in conf.d, which gangway's proxy
      # configuration replaces.
      rm -f "$root"/etc/nginx/sites-enabled/default
      cat >"$root"/etc/nginx/conf.d/default.conf <<'NGINX'
server {
    listen 80 default_server;
    root /var/www/html;
    index index.nginx-debian.html index.html;
}
NGINX
      ln -sf /dev/stdout "$root"/var/log/nginx/access.log
      ln -sf /dev/stderr "$root"/var/log/nginx/error.log
      ;;
    local/postgres)
      install -d -o 0 -g 0 "$root"/usr/local/bin
      cat >"$root"/usr/local/bin/docker-entrypoint.sh <<'SH'
#!/bin/sh
# The official postgres image's contract, reduced: POSTGRES_PASSWORD[_FILE],
# POSTGRES_USER, POSTGRES_DB; a new data directory is initialised on first start.
set -eu
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /run/postgresql
  chown -R postgres:postgres "$PGDATA" /run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ "${1:-}" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then POSTGRES_PASSWORD=$(cat "$POSTGRES_PASSWORD_FILE"); fi
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "error: POSTGRES_PASSWORD (or POSTGRES_PASSWORD_FILE) must be set to initialise the database" >&2
    exit 1
  fi
  user=${POSTGRES_USER:-postgres}
  pwfile=$(mktemp)
  printf '%s' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb --username="$user" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 >/dev/null
  rm -f "$pwfile"
  echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  db=${POSTGRES_DB:-$user}
  if [ "$db" != postgres ]; then
    pg_ctl -w -o "-c listen_addresses=''" start >/dev/null
    psql -v ON_ERROR_STOP=1 --username="$user" --dbname=postgres -c "CREATE DATABASE \"$db\"" >/dev/null
    pg_ctl -w -m fast stop >/dev/null
  fi
  echo "database initialised in $PGDATA"
fi
exec "$@"
SH
      chmod 755 "$root"/usr/local/bin/docker-entrypoint.sh
      ;;
  esac
}

stamp_of() { docker image inspect --format '{{ index .Config.Labels "dev.gangway.recipe" }}' "$1" 2>/dev/null || true; }

mkdir -p "$CACHE/debs"
for image in "${want[@]}"; do
  pkgs=$(packages_for "$image")
  [ -n "$pkgs" ] || { echo "local-images: no recipe for '$image'" >&2; exit 2; }
  if [ "$FORCE" = 0 ] && [ "$(stamp_of "$image")" = "$RECIPE" ]; then
    echo "local-images: $image is up to date"
    continue
  fi
  start=$(date +%s)
  root=$(mktemp -d "$CACHE/root.XXXXXX")
  trap 'rm -rf "$root"' EXIT
  # postgresql-common would create and start a cluster during install; the image initialises its own.
  mkdir -p "$root/etc/postgresql-common"
  echo "create_main_cluster = false" >"$root/etc/postgresql-common/createcluster.conf"
  echo "local-images: building $image (debootstrap $SUITE: $pkgs)"
  if ! debootstrap --variant=minbase --include="$pkgs" --cache-dir="$CACHE/debs" \
      "$SUITE" "$root" ${MIRROR:+"$MIRROR"} >"$root.log" 2>&1; then
    echo "local-images: debootstrap failed for $image; last lines of $root.log:" >&2
    tail -n 20 "$root.log" >&2
    exit 1
  fi
  finish_root "$image" "$root"
  change_args=()
  while IFS= read -r change; do change_args+=(--change "$change"); done < <(changes_for "$image"; echo "LABEL dev.gangway.recipe=$RECIPE")
  tar --numeric-owner -C "$root" -c . | docker import "${change_args[@]}" - "$image" >/dev/null
  rm -rf "$root" "$root.log"
  trap - EXIT
  echo "local-images: $image built in $(( $(date +%s) - start ))s ($(docker image inspect --format '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
done
