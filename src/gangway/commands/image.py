"""The `docker build` command for the app image, from the `[image]` section."""

from __future__ import annotations

from pathlib import Path

from gangway.config import ImageConfig


def build_argv(
    image: ImageConfig,
    *,
    tag: str,
    root: Path,
    version: str = "0.0.0+dev",
    revision: str = "unknown",
    no_cache: bool = False,
) -> list[str]:
    """Return the argv that builds the app image `tag` from the repository at `root`.

    Build arguments carry the base images and the wheelhouse switch so the same
    Dockerfile serves online builds and air-gapped ones; version and revision become
    OCI labels in the last layers only.
    """
    argv = [
        "docker",
        "build",
        "--file",
        str(root / image.dockerfile),
        "--tag",
        tag,
        "--build-arg",
        f"BASE_IMAGE={image.base_image}",
        "--build-arg",
        f"BUILDER_IMAGE={image.builder_image}",
        "--build-arg",
        f"PIP_NO_INDEX={1 if image.pip_no_index else 0}",
        "--build-arg",
        f"VERSION={version}",
        "--build-arg",
        f"REVISION={revision}",
    ]
    if no_cache:
        argv.append("--no-cache")
    argv.append(str(root / image.context))
    return argv
