"""The duration type of pipeline.toml: `"250ms"`, `"5s"`, `"1m30s"`, `"2h"` or seconds."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any, Final

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

# ASCII digits only: `\d` (and float()) would read "５s" (full-width) as 5 seconds.
_NUMBER = r"[0-9]+"
_SECONDS_TEXT = re.compile(rf"{_NUMBER}(?:\.{_NUMBER})?")
_DURATION = re.compile(
    rf"(?:(?P<h>{_NUMBER})h)?(?:(?P<m>{_NUMBER})m)?"
    rf"(?:(?P<s>{_NUMBER}(?:\.{_NUMBER})?)s)?(?:(?P<ms>{_NUMBER})ms)?"
)
_EXPECTED = "expected a duration such as '30s', '1m30s' or '250ms'"
_MILLISECOND = timedelta(milliseconds=1)
_UNIT_SECONDS: Final = {"h": 3600, "m": 60, "s": 1}
#: The bound of a duration key that names none of its own: a day.
DEFAULT_MAXIMUM: Final = timedelta(days=1)


def parse_duration(value: object, *, maximum: timedelta = DEFAULT_MAXIMUM) -> timedelta:
    """Read a duration from TOML or an environment variable; whole milliseconds, in range.

    The bound is checked on the number as written, before a timedelta is made of it, so
    `"99999999999h"`, `1e300`, `inf` or an integer of a thousand digits is a user error,
    never an OverflowError.
    """
    seconds = _seconds_of(value)
    if seconds > Decimal(maximum.total_seconds()):
        raise PydanticCustomError(
            "duration_too_long",
            "must be at most {maximum}",
            {"maximum": format_duration(maximum)},
        )
    millis = round(seconds * 1000)
    if millis <= 0:
        raise PydanticCustomError("duration", "must be longer than 0ms")
    return timedelta(milliseconds=millis)


def _seconds_of(value: object) -> Decimal:
    if isinstance(value, timedelta):
        return Decimal(value.days * 86400 + value.seconds) + Decimal(value.microseconds) / 10**6
    if isinstance(value, bool):
        raise PydanticCustomError("duration", _EXPECTED)
    if isinstance(value, int):
        # Compared as an int: a huge one never reaches Decimal or str conversion.
        return Decimal(max(min(value, 10**12), -1))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PydanticCustomError("duration", "expected a finite duration, not {value}",
                                      {"value": str(value)})  # fmt: skip
        return Decimal(min(max(value, -1.0), 1e12))
    if isinstance(value, str):
        return _parse_text(value.strip())
    raise PydanticCustomError("duration", _EXPECTED)


def _parse_text(text: str) -> Decimal:
    if text.startswith("-") and _SECONDS_TEXT.fullmatch(text[1:]):
        raise PydanticCustomError("duration", "must be longer than 0ms")
    if _SECONDS_TEXT.fullmatch(text):
        return _decimal(text)
    match = _DURATION.fullmatch(text)
    if not text or match is None:
        raise PydanticCustomError("duration", _EXPECTED)
    total = Decimal(0)
    for unit, factor in _UNIT_SECONDS.items():
        if match.group(unit):
            total += _decimal(match.group(unit)) * factor
    if match.group("ms"):
        total += _decimal(match.group("ms")) / 1000
    return total


def _decimal(digits: str) -> Decimal:
    # A number of more than 15 digits before the point is beyond any bound: say so without
    # building it (an int of thousands of digits is refused by Python's str conversion).
    whole = digits.split(".", 1)[0].lstrip("0")
    return Decimal(10**15) if len(whole) > 15 else Decimal(digits)


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


@dataclass(frozen=True)
class AtMost:
    """Metadata of a duration key: its upper bound (`Annotated[timedelta, AtMost(...)]`)."""

    maximum: timedelta

    def __get_pydantic_core_schema__(
        self, source_type: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        maximum = self.maximum

        def validate(value: object) -> timedelta:
            return parse_duration(value, maximum=maximum)

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                format_duration, return_schema=core_schema.str_schema()
            ),
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "examples": ["30s", "1m30s", "250ms"],
            "description": f"at most {format_duration(self.maximum)}",
        }


Duration = Annotated[timedelta, AtMost(DEFAULT_MAXIMUM)]
"""A positive duration of at most a day, written `"250ms"`, `"5s"`, `"1m30s"`, `"2h"` or seconds."""
