"""An image the host lacks and cannot pull, reported as the key that names it and how
to get it there."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gangway.errors import DeployFailed, FailedStep

#: The key of the release image: it is given on the command line, not in pipeline.toml.
RELEASE_IMAGE = "--image"

# What docker says when an image is neither on the host nor pullable from its registry.
_IMAGE_UNAVAILABLE = (
    "Unable to find image",
    "pull access denied",
    "manifest unknown",
    "No such image",
    "not found: manifest",
    "connection refused",
    "no such host",
    "i/o timeout",
)


def image_unavailable(stderr: str) -> str:
    """docker's line saying an image could not be found or pulled ("" if it says not)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if not any(sign in line for line in lines for sign in _IMAGE_UNAVAILABLE):
        return ""
    errors = [line for line in lines if "Error" in line or "error" in line]
    return (errors or lines)[-1].removeprefix("docker: ")


def image_named(argv: Sequence[str], images: Mapping[str, str]) -> tuple[str, str] | None:
    """(key, image) of the first of `images` (key -> reference) that `argv` runs."""
    for key, image in images.items():
        if image and image in argv:
            return key, image
    return None


def missing_image(
    key: str,
    image: str,
    docker_said: str,
    *,
    pull: str,
    environment: str,
    step: FailedStep = "image",
) -> DeployFailed:
    """The error for `image` (named by `key`) that is not on the host and was not pulled."""
    ways = [f"`docker pull {image}` on the host (or `docker load` it there)"]
    if image.startswith("local/"):
        ways.append("`docker/local-images.sh` builds it")
    if pull == "never":
        ways.append(f'let the host pull it: environments.{environment}.pull = "missing"')
        why = 'pull = "never" and the host does not have it'
    else:
        ways.append(f"check {key} and that the host reaches its registry")
        why = f'pull = "{pull}" and the host could not pull it'
    return DeployFailed(
        step,
        f"{key} {image} is not on the host ({why}): {docker_said}",
        hint=f"nothing live changed; to get it: {'; or '.join(ways)}",
    )
