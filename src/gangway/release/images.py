"""The release image and the others a plan runs: which ones gangway may prune, what the
plan says about them, and an image the host lacks and cannot pull, reported as the key
that names it and how to get it there."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gangway.commands.docker import Color
from gangway.errors import DeployFailed, FailedStep
from gangway.release.state import HostState, ImageInfo

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


def prunable(
    state: HostState,
    image: str,
    color: Color,
    *,
    pulled: bool,
    retain: int,
    everything: bool,
) -> list[tuple[str, str]]:
    """(image, why) to remove once `image` is live in `color`: releases older than the
    `retain` most recent successful ones, never one a container still uses after this
    deploy; only images gangway pulled onto the host (`pulled`: this one's), unless
    `everything` (`prune = "all"`): a tag the user built or loaded himself is his."""
    keep: list[str] = [image]
    brought: set[str] = {image} if pulled else set()
    for record in reversed(state.history):
        if record.outcome == "succeeded" and record.image not in keep:
            keep.append(record.image)
        if record.pulled:
            brought.add(record.image)
    replaced = state.app(color)
    in_use = {c.image for c in state.containers if c.role == "app" and c is not replaced}
    in_use.add(image)
    return [
        (old, "pulled by gangway" if old in brought else 'prune = "all"')
        for old in keep[retain:]
        if old not in in_use and (everything or old in brought)
    ]


def image_notes(info: ImageInfo | None, *, pull: str, liveness_url: str) -> tuple[str, ...]:
    """What a plan says about the release image: pulled or not, and what proves it alive
    (`info`: as `docker image inspect` found it before planning; None: not read)."""
    notes: list[str] = []
    if info is not None and not info.present:
        notes.append(
            'the image is not on the host and pull = "never": the start will fail'
            if pull == "never"
            else f"the image is not on the host: it is pulled (pull = {pull})"
        )
    if info is None or info.healthcheck is None:
        return tuple(notes)
    if not info.healthcheck and not liveness_url:
        notes.append(
            'the image has no HEALTHCHECK and health.path = "": nothing checks that the '
            "release is alive, only that it runs and is ready"
        )
    elif not info.healthcheck:
        notes.append(f"the image has no HEALTHCHECK: liveness is gangway's probe of {liveness_url}")
    elif liveness_url:
        notes.append(f"liveness: the image's HEALTHCHECK and {liveness_url} must both pass")
    return tuple(notes)
