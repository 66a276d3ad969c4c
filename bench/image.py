"""Image benchmark: size against a naive single-stage build, warm rebuild ÷ cold build.

Run with `nox -s bench` (or `python bench/image.py` in an environment with gangway
installed). It builds in a temporary copy of the repository, so the work tree is never
touched, and prints its figures with the targets: image size ≤ 0.6 x naive, and rebuild
after a one-line code change ≤ 0.15 x a cold build. Exit code 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from gangway.commands.image import build_argv
from gangway.config import load_config

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.worktree import copy_checkout  # noqa: E402 - the checkout copier the tests use

SIZE_TARGET = 0.6
REBUILD_TARGET = 0.15
CHANGED_FILE = Path("app/src/sample_app/__init__.py")


def run(argv: list[str]) -> float:
    """Run a build; return its wall time in seconds, or exit with its output."""
    env = {**os.environ, "DOCKER_BUILDKIT": os.environ.get("DOCKER_BUILDKIT", "0")}
    started = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(
            f"bench: build failed ({proc.returncode}): {' '.join(argv)}\n{proc.stderr[-3000:]}"
        )
    return elapsed


def image_size(tag: str) -> int:
    out = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Size}}", tag],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return int(out.strip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the built images")
    args = parser.parse_args()

    image = load_config(ROOT / "pipeline.toml", environ=os.environ).image
    tag = f"gangway-bench/notes:{uuid.uuid4().hex[:8]}"
    naive_tag = f"{tag}-naive"
    with tempfile.TemporaryDirectory(prefix="gangway-bench-") as tmp:
        work = Path(tmp)
        copy_checkout(work)
        try:
            print(f"bench: base {image.base_image}, builder {image.builder_image}, "
                  f"wheelhouse only: {image.pip_no_index}")  # fmt: skip
            cold = run(build_argv(image, tag=tag, root=work, no_cache=True))
            print(f"bench: cold build              {cold:7.1f} s")
            path = work / CHANGED_FILE
            path.write_text(path.read_text() + "# one-line change for the rebuild benchmark\n")
            warm = run(build_argv(image, tag=tag, root=work))
            print(f"bench: rebuild after 1-line edit {warm:5.1f} s")
            size = image_size(tag)

            # The naive build has no .dockerignore: everything in the repository goes in.
            (work / ".dockerignore").unlink()
            naive_build = [
                "docker", "build", "--no-cache", "--file", str(work / "bench/Dockerfile.naive"),
                "--tag", naive_tag,
                "--build-arg", f"BUILDER_IMAGE={image.builder_image}",
                "--build-arg", f"PIP_NO_INDEX={1 if image.pip_no_index else 0}",
                str(work),
            ]  # fmt: skip
            naive_time = run(naive_build)
            naive = image_size(naive_tag)
            print(
                f"bench: naive single-stage build {naive_time:6.1f} s "
                f"(FROM {image.builder_image}, whole repository copied in)"
            )
        finally:
            if not args.keep:
                subprocess.run(["docker", "image", "rm", "--force", tag, naive_tag],
                               capture_output=True, check=False)  # fmt: skip

    size_ratio = size / naive
    rebuild_ratio = warm / cold
    rows = [
        ("image size", f"{size / 1e6:.0f} MB vs naive {naive / 1e6:.0f} MB",
         size_ratio, SIZE_TARGET),
        ("warm rebuild / cold build", f"{warm:.1f} s / {cold:.1f} s", rebuild_ratio,
         REBUILD_TARGET),
    ]  # fmt: skip
    print()
    print(f"{'figure':<28}{'measured':<30}{'ratio':>7}  {'target':>7}  verdict")
    missed = 0
    for name, measured, ratio, target in rows:
        ok = ratio <= target
        missed += not ok
        print(f"{name:<28}{measured:<30}{ratio:7.2f}  {'<= ' + str(target):>7}  "
              f"{'ok' if ok else 'MISSED'}")  # fmt: skip
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
