"""The command lines the stages run, as pure functions: both runners use these.

The local runner runs them through its executor on the host; the Dagger module runs them
with `with_exec` in containers. Paths are given by the caller, since the repository
lives at different places (the checkout, or /src in a container).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from gangway.config import PipelineConfig

URL_PLACEHOLDER = "{url}"


def with_url(command: Sequence[str], url: str) -> list[str]:
    """`command` with every `{url}` replaced by `url`."""
    return [part.replace(URL_PLACEHOLDER, url) for part in command]


def gangway_argv(config_path: str, *args: str) -> list[str]:
    """`gangway --config PATH ...`: the core's CLI with an explicit config file."""
    return ["gangway", "--config", config_path, *args]


def run_tests_argv(config: PipelineConfig) -> list[str]:
    """The test stage's command ([stages] test)."""
    return list(config.stages.test)


def deploy_argv(
    config_path: str,
    environment: str,
    image: str,
    *,
    version: str | None = None,
    lock_wait: str | None = None,
    allow_destructive: bool = False,
    smoke: Sequence[str] = (),
) -> list[str]:
    """`gangway deploy` of one image to one environment, as the deploy stages run it.

    `smoke`, with its `{url}` left in, is run by the deployer against the preview URL
    before the switch ([stages] smoke, for production).
    """
    argv = gangway_argv(config_path, "deploy", "--env", environment, "--image", image)
    if smoke:
        argv += ["--smoke", shlex.join(smoke)]
    if version:
        argv += ["--version", version]
    if lock_wait:
        argv += ["--lock-wait", lock_wait]
    if allow_destructive:
        argv.append("--allow-destructive")
    return argv


def rollback_argv(config_path: str, environment: str, *, to: str | None = None) -> list[str]:
    """`gangway rollback` to the previous (or a named) release."""
    argv = gangway_argv(config_path, "rollback", "--env", environment)
    if to:
        argv += ["--to", to]
    return argv


def status_argv(config_path: str, environment: str, *, json: bool = False) -> list[str]:
    """`gangway status` of one environment."""
    argv = gangway_argv(config_path, "status", "--env", environment)
    if json:
        argv.append("--json")
    return argv


def integration_test_argv(config: PipelineConfig, base_url: str) -> list[str]:
    """The integration-test stage's command against `base_url` ([stages] integration_test)."""
    return with_url(config.stages.integration_test, base_url)


def smoke_argv(config: PipelineConfig, preview_url: str) -> list[str]:
    """The smoke subset against a preview URL ([stages] smoke; [] when there is none)."""
    return with_url(config.stages.smoke, preview_url)


def image_ref(config: PipelineConfig, tag: str) -> str:
    """`registry/repository:tag`, the name an image is published and deployed under."""
    repository = config.image.repository or config.app.name
    return f"{config.registry.address}/{repository}:{tag}"


def publish_tags(version: str) -> tuple[str, str]:
    """The tags a build is published under: its version (the commit) and `latest`."""
    return (version, "latest")


def build_args(config: PipelineConfig, *, version: str, revision: str) -> dict[str, str]:
    """The Dockerfile's build arguments, for `docker build` and Dagger's `docker_build`."""
    return {
        "BASE_IMAGE": config.image.base_image,
        "BUILDER_IMAGE": config.image.builder_image,
        "PIP_NO_INDEX": "1" if config.image.pip_no_index else "0",
        "VERSION": version,
        "REVISION": revision,
    }
