"""The `docker build` argv for the app image."""

from __future__ import annotations

from pathlib import Path

from gangway.commands.image import build_argv
from gangway.config import ImageConfig

ROOT = Path("/src/repo")


def test_build_passes_bases_wheelhouse_switch_and_metadata_as_build_args() -> None:
    image = ImageConfig(base_image="local/python-slim", builder_image="local/python-build",
                        pip_no_index=True)  # fmt: skip
    assert build_argv(image, tag="notes:1.2.3", root=ROOT, version="1.2.3", revision="abc") == [
        "docker", "build",
        "--file", "/src/repo/docker/Dockerfile",
        "--tag", "notes:1.2.3",
        "--build-arg", "BASE_IMAGE=local/python-slim",
        "--build-arg", "BUILDER_IMAGE=local/python-build",
        "--build-arg", "PIP_NO_INDEX=1",
        "--build-arg", "VERSION=1.2.3",
        "--build-arg", "REVISION=abc",
        "/src/repo",
    ]  # fmt: skip


def test_build_defaults_to_public_bases_and_the_package_index() -> None:
    argv = build_argv(ImageConfig(), tag="notes:dev", root=ROOT)
    assert "BASE_IMAGE=python:3.12-slim" in argv
    assert "BUILDER_IMAGE=python:3.12" in argv
    assert "PIP_NO_INDEX=0" in argv
    assert "--no-cache" not in argv


def test_build_honours_dockerfile_context_and_no_cache() -> None:
    image = ImageConfig(dockerfile="ops/app.Dockerfile", context="services/api")
    argv = build_argv(image, tag="api:x", root=ROOT, no_cache=True)
    assert argv[argv.index("--file") + 1] == "/src/repo/ops/app.Dockerfile"
    assert argv[-2:] == ["--no-cache", "/src/repo/services/api"]
