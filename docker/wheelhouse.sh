#!/usr/bin/env bash
# Fill docker/wheels with wheels for app/requirements.txt, for image builds where the
# container cannot reach a package index (--build-arg PIP_NO_INDEX=1). Runs on the host.
#
# Usage: docker/wheelhouse.sh [PYTHON_VERSION]
#   PYTHON_VERSION  the Python of the image's base, e.g. 3.11 or 3.12; by default it is
#                   read from $BASE_IMAGE (default local/python-slim) with docker run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest="$here/wheels"
req="$here/../app/requirements.txt"
pyver=${1:-}
if [ -z "$pyver" ]; then
  base=${BASE_IMAGE:-local/python-slim}
  pyver=$(docker run --rm --pull=never --network=none "$base" \
            python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])') || {
    echo "wheelhouse: cannot read the Python version of $base; pass it: $0 3.11" >&2; exit 2; }
fi
[[ "$pyver" =~ ^3\.[0-9]+$ ]] || { echo "wheelhouse: PYTHON_VERSION must look like 3.11 (got '$pyver')" >&2; exit 2; }
python3 -m pip --version >/dev/null 2>&1 || {
  echo "wheelhouse: needs pip for $(command -v python3) (apt-get install python3-pip, or run it in a venv)" >&2; exit 1; }
arch=$(uname -m)
# pip does not widen an explicit manylinux platform to the older ones it is compatible
# with, so list them all, newest first (Debian 12's glibc is 2.36).
platforms=()
for minor in $(seq 36 -1 17); do platforms+=(--platform "manylinux_2_${minor}_${arch}"); done
platforms+=(--platform "manylinux2014_${arch}" --platform "linux_${arch}")
mkdir -p "$dest"
python3 -m pip download --quiet --disable-pip-version-check --require-hashes \
  --only-binary=:all: --implementation cp --python-version "$pyver" "${platforms[@]}" \
  --dest "$dest" -r "$req"
echo "wheelhouse: $(find "$dest" -name '*.whl' | wc -l) wheels for Python $pyver ($arch) in $dest"
