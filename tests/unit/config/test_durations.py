"""The duration type: what it reads, what it refuses, how it writes itself back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pydantic import BaseModel, ValidationError

from gangway.config import Duration, format_duration, parse_duration


class Timed(BaseModel):
    timeout: Duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("250ms", timedelta(milliseconds=250)),
        ("5s", timedelta(seconds=5)),
        ("1m30s", timedelta(seconds=90)),
        ("2h", timedelta(hours=2)),
        ("1h2m3s4ms", timedelta(hours=1, minutes=2, seconds=3, milliseconds=4)),
        ("1.5s", timedelta(milliseconds=1500)),
        (" 30s ", timedelta(seconds=30)),
        ("30", timedelta(seconds=30)),
        (30, timedelta(seconds=30)),
        (0.25, timedelta(milliseconds=250)),
        (timedelta(seconds=3), timedelta(seconds=3)),
    ],
)
def test_accepted_forms(text: object, expected: timedelta) -> None:
    assert Timed.model_validate({"timeout": text}).timeout == expected


@pytest.mark.parametrize("text", ["5 sec", "s", "", "1m30", "30S", "-5s", "5s1m", "five"])
def test_bad_text_says_what_is_accepted(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Timed.model_validate({"timeout": text})

    (error,) = caught.value.errors()
    assert error["msg"] == "expected a duration such as '30s', '1m30s' or '250ms'"


@pytest.mark.parametrize("value", [0, "0s", "0ms", -3, "-1"])
def test_zero_and_negative_durations_are_refused(value: object) -> None:
    with pytest.raises(ValidationError) as caught:
        Timed.model_validate({"timeout": value})

    assert caught.value.errors()[0]["msg"] == "must be longer than 0ms"


@pytest.mark.parametrize("value", [True, None, ["5s"]])
def test_values_that_are_not_durations_are_refused(value: object) -> None:
    with pytest.raises(ValidationError):
        Timed.model_validate({"timeout": value})


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(milliseconds=250), "250ms"),
        (timedelta(seconds=5), "5s"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(hours=2), "2h"),
        (timedelta(seconds=3600 + 1.5), "1h1s500ms"),
    ],
)
def test_durations_serialise_to_the_compact_form(duration: timedelta, text: str) -> None:
    assert format_duration(duration) == text
    assert Timed(timeout=duration).model_dump() == {"timeout": text}
    assert parse_duration(text) == duration


def test_durations_are_rounded_to_whole_milliseconds() -> None:
    assert parse_duration(0.0016) == timedelta(milliseconds=2)
    with pytest.raises(ValueError, match="longer than 0ms"):
        parse_duration(0.0004)
