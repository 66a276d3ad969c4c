"""The duration type of pipeline.toml: `"250ms"`, `"5s"`, `"1m30s"`, `"2h"` or seconds."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

_DURATION = re.compile(
    r"(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?(?:(?P<ms>\d+)ms)?"
)
_EXPECTED = "expected a duration such as '30s', '1m30s' or '250ms'"
_MILLISECOND = timedelta(milliseconds=1)


def parse_duration(value: object) -> timedelta:
    """Read a duration from TOML or an environment variable; whole milliseconds, above zero."""
    if isinstance(value, timedelta):
        duration = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        duration = timedelta(seconds=value)
    elif isinstance(value, str):
        duration = _parse_text(value.strip())
    else:
        raise PydanticCustomError("duration", _EXPECTED)
    duration = round(duration / _MILLISECOND) * _MILLISECOND
    if duration <= timedelta(0):
        raise PydanticCustomError("duration", "must be longer than 0ms")
    return duration


def _parse_text(text: str) -> timedelta:
    try:
        return timedelta(seconds=float(text))
    except ValueError:
        pass
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise PydanticCustomError("duration", _EXPECTED)
    hours, minutes, seconds, millis = (match.group(unit) for unit in ("h", "m", "s", "ms"))
    return timedelta(
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=float(seconds or 0),
        milliseconds=int(millis or 0),
    )


def format_duration(duration: timedelta) -> str:
    """The compact form pipeline.toml uses: 90s → `1m30s`, 0.25s → `250ms`."""
    millis = round(duration / _MILLISECOND)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    seconds, millis = divmod(millis, 1000)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (seconds, "s")) if n]
    if millis or not parts:
        parts.append(f"{millis}ms")
    return "".join(parts)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["30s", "1m30s", "250ms"]}),
]
"""A positive duration, written `"250ms"`, `"5s"`, `"1m30s"`, `"2h"` or as seconds."""
