#!/usr/bin/env bash
# Start a plain-HTTP image registry on 127.0.0.1 for the local pipeline (`nox -s pipeline`
# publishes to registry.address, 127.0.0.1:5000 by default). Uses Debian's docker-registry
# with a config of its own: Debian's default one requires auth and listens on every
# interface. Idempotent: does nothing when something already answers on the port.
#   usage: docker/local-registry.sh [PORT]     (data in /var/lib/gangway/registry)
set -euo pipefail
port="${1:-5000}"
base="${GANGWAY_REGISTRY_DIR:-/var/lib/gangway/registry}"

if curl -fsS -o /dev/null "http://127.0.0.1:${port}/v2/" 2>/dev/null; then
  echo "registry: already answering on 127.0.0.1:${port}"
  exit 0
fi
if ! command -v docker-registry >/dev/null; then
  echo "registry: docker-registry is not installed (apt-get install docker-registry)" >&2
  exit 1
fi
mkdir -p "$base/data"
cat >"$base/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $base/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:${port}
YAML
nohup docker-registry serve "$base/config.yml" >"$base/registry.log" 2>&1 &
for _ in $(seq 1 50); do
  if curl -fsS -o /dev/null "http://127.0.0.1:${port}/v2/" 2>/dev/null; then
    echo "registry: listening on 127.0.0.1:${port} (data: $base/data, log: $base/registry.log)"
    exit 0
  fi
  sleep 0.2
done
echo "registry: did not come up on 127.0.0.1:${port}; its log:" >&2
tail -n 20 "$base/registry.log" >&2
exit 1
