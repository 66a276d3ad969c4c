"""Pure checks of the values a user types: image references, versions, durations of flags.

Each check returns the value it accepted or raises ValueError with a message that says
what would be right; `flag_value` makes an argparse type of one, so a bad flag is exit 2 naming it.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Final, TypeVar

from pydantic_core import PydanticCustomError

from gangway.config.durations import format_duration, parse_duration

# Docker's reference grammar (distribution/reference), ASCII only:
#   reference := name [ ":" tag ] [ "@" digest ]
#   name      := [domain "/"] path-component ("/" path-component)*
#   domain    := host [":" port]   (a host with a '.' or ':', or `localhost`, before a '/')
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|-+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_LABEL}(?:\.{_DOMAIN_LABEL})*|\[[0-9a-fA-F:]+\])"
_PORT = r"[0-9]{1,5}"
TAG: Final = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"sha256:[0-9a-f]{64}"
_REFERENCE = re.compile(
    rf"(?:(?P<domain>{_HOST}(?::(?P<port>{_PORT}))?)/)?"
    rf"(?P<path>{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*)"
    rf"(?::(?P<tag>{TAG}))?(?:@(?P<digest>{_DIGEST}))?"
)
_TAG = re.compile(TAG)
_MAX_NAME: Final = 255
#: The longest --lock-wait: a queue of a day is already a queue nobody watches.
MAX_LOCK_WAIT: Final = timedelta(hours=24)

_EXPECTED_IMAGE = (
    "expected an image reference [registry[:port]/]path[:tag][@sha256:<64 hex>] with a "
    "lowercase path, e.g. 'nginx:1.27-alpine' or '127.0.0.1:5000/notes:1.4.2'"
)
_EXPECTED_TAG = (
    "expected a version usable as an image tag: letters, digits, '_', '.' and '-', "
    "not starting with '.' or '-', at most 128 characters, e.g. '1.4.2'"
)


def check_image_reference(value: str) -> str:
    """A Docker image reference, or ValueError saying the grammar."""
    if not value or not value.isascii():
        raise ValueError(_EXPECTED_IMAGE)
    match = _REFERENCE.fullmatch(value)
    if match is None:
        raise ValueError(_EXPECTED_IMAGE)
    domain = match["domain"]
    registry = domain is not None and ("." in domain or ":" in domain or domain == "localhost")
    # `team/notes`: Docker reads a first component without '.' or ':' as a path (lowercase).
    if domain is not None and not registry and domain != domain.lower():
        raise ValueError(_EXPECTED_IMAGE)
    port = match["port"]
    if port is not None and not 1 <= int(port) <= 65535:
        raise ValueError(f"registry port {port} is not in 1–65535; {_EXPECTED_IMAGE}")
    name = value.split("@", 1)[0]
    if match["tag"] is not None:
        name = name[: -len(match["tag"]) - 1]
    if len(name) > _MAX_NAME:
        raise ValueError(f"image name longer than {_MAX_NAME} characters; {_EXPECTED_IMAGE}")
    return value


def check_version(value: str) -> str:
    """A version as gangway records it: the grammar of an image tag."""
    if not value.isascii() or _TAG.fullmatch(value) is None:
        raise ValueError(_EXPECTED_TAG)
    return value


def check_rollback_target(value: str) -> str:
    """A release to roll back to: a version (a tag) or a short or whole image digest."""
    return check_version(value)


def check_lock_wait(value: str) -> timedelta:
    """A --lock-wait duration: positive, at most a day."""
    try:
        return parse_duration(value, maximum=MAX_LOCK_WAIT)
    except PydanticCustomError as exc:
        message = exc.message()
        if "at most" not in message:
            message += f"; at most {format_duration(MAX_LOCK_WAIT)}"
        raise ValueError(message) from None


T = TypeVar("T")


def flag_value(check: Callable[[str], T]) -> Callable[[str], T]:
    """An argparse `type=`: a refused value is argparse's usage error naming the flag (exit 2)."""

    def convert(value: str) -> T:
        try:
            return check(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{exc} (got {value!r})") from None

    convert.__name__ = check.__name__.removeprefix("check_")
    return convert
