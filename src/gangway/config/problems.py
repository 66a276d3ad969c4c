"""A pydantic error of pipeline.toml as the user reads it: its key, its value (masked
when it may be a secret), where it came from, and what would be right."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from typing import get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from gangway.config.model import PipelineConfig
from gangway.config.syntax import (
    Loc,
)
from gangway.config.types import value_type
from gangway.errors import FILE_SOURCE, NO_VALUE, ConfigProblem, ValueSource

_SECRET_WORDS = re.compile(r"password|passwd|token|credential|api_?key|webhook", re.I)
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


def problem_from(
    error: ErrorDetails,
    data: Mapping[str, object],
    provenance: Mapping[Loc, ValueSource],
    file: str,
) -> ConfigProblem:
    loc: Loc = tuple(error["loc"])
    context = error.get("ctx") or {}
    kind = error["type"]
    value: object = error.get("input", NO_VALUE)
    if "at" in context:  # a check on a section that blames one of its keys
        loc = (*loc, str(context["at"]))
        value = context.get("port", value)
    message = _message(error, loc)
    if loc and loc[-1] == "[key]":
        loc = loc[:-1]
        value = loc[-1]
        message = f"invalid key: {message}"
    source = _source_of(loc, provenance, descendants=kind == "extra_forbidden")
    if kind == "extra_forbidden":
        message, value = _unknown_key(loc), NO_VALUE
    elif kind == "missing":
        message, value = _missing(loc), NO_VALUE
    secret = source.kind == "secret" or _is_secret(loc) or _looks_secret(value)
    return ConfigProblem(
        message, file=file, key=dotted(loc), value=value, source=source, secret=secret
    )


def _message(error: ErrorDetails, loc: Loc) -> str:
    kind = error["type"]
    annotation = value_type(annotation_at(loc))
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        if is_model(annotation):
            assert isinstance(annotation, type)
            assert issubclass(annotation, BaseModel)
            return f"expected a table with the keys {', '.join(annotation.model_fields)}"
        return "expected a table"
    if kind == "list_type":
        if get_origin(annotation) is list and is_model(item := get_args(annotation)[0]):
            assert isinstance(item, type)
            assert issubclass(item, BaseModel)
            return (
                f"expected an array of tables ([[{dotted(loc)}]] entries, each with the "
                f"keys {', '.join(item.model_fields)})"
            )
        return "expected an array"
    message = error["msg"].removeprefix("Value error, ")
    if kind.endswith("_parsing"):
        message = message.split(", unable to")[0]
    return message


def _unknown_key(loc: Loc) -> str:
    parent = value_type(annotation_at(loc[:-1]))
    if not (isinstance(parent, type) and issubclass(parent, BaseModel)):
        return "unknown key"
    allowed = list(parent.model_fields)
    close = difflib.get_close_matches(str(loc[-1]).lower(), allowed, n=1, cutoff=0.6)
    if close:
        return f"unknown key; did you mean '{close[0]}'?"
    return f"unknown key; allowed keys: {', '.join(allowed)}"


def _missing(loc: Loc) -> str:
    section = value_type(annotation_at(loc))
    if not (isinstance(section, type) and issubclass(section, BaseModel)):
        return "required key is missing"
    needed = [
        f"[{dotted((*loc, name))}]"
        for name, field in section.model_fields.items()
        if field.is_required() and is_model(field.annotation)
    ]
    return "required section is missing" + (f"; add {' and '.join(needed)}" if needed else "")


def _source_of(
    loc: Loc, provenance: Mapping[Loc, ValueSource], *, descendants: bool
) -> ValueSource:
    for depth in range(len(loc), 0, -1):
        if loc[:depth] in provenance:
            return provenance[loc[:depth]]
    if descendants:
        for key, source in provenance.items():
            if key[: len(loc)] == loc:
                return source
    return FILE_SOURCE


def dotted(loc: tuple[str | int, ...]) -> str:
    return ".".join(
        str(part) if isinstance(part, int) or _PLAIN_KEY.fullmatch(part) else json.dumps(part)
        for part in loc
    )


def child_annotation(annotation: object, key: str | int) -> object:
    """The annotation of `key` inside a value of type `annotation`; None if it has no such key."""
    container = value_type(annotation)
    if isinstance(container, type) and issubclass(container, BaseModel):
        field = container.model_fields.get(str(key))
        return None if field is None else field.annotation
    origin = get_origin(container)
    if origin is list and isinstance(key, int):
        return get_args(container)[0]
    if origin is dict:
        return get_args(container)[1]
    return None


def annotation_at(loc: Loc) -> object:
    annotation: object = PipelineConfig
    for key in loc:
        annotation = child_annotation(annotation, key)
    return annotation


def is_model(annotation: object) -> bool:
    annotation = value_type(annotation)
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _is_secret(loc: Loc) -> bool:
    """Whether the value at `loc` is, holds or may hold a secret: never echo it then."""
    if any(isinstance(part, str) and _SECRET_WORDS.search(part) for part in loc):
        return True
    return _holds_secret(annotation_at(loc))


def _holds_secret(annotation: object, depth: int = 0) -> bool:
    annotation = value_type(annotation)
    if annotation is SecretStr:
        return True
    if depth > 8:
        return False
    if is_model(annotation):
        assert isinstance(annotation, type)
        assert issubclass(annotation, BaseModel)
        fields: dict[str, FieldInfo] = annotation.model_fields
        return any(_holds_secret(field.annotation, depth + 1) for field in fields.values())
    return any(_holds_secret(arg, depth + 1) for arg in get_args(annotation))


def _looks_secret(value: object, depth: int = 0) -> bool:
    """A URL with credentials or a query (webhook tokens live there), anywhere in the value."""
    if isinstance(value, str):
        if "://" not in value:
            return False
        rest = value.split("://", 1)[1]
        return "@" in rest.split("/", 1)[0] or "?" in rest or "#" in rest
    if depth > 4:
        return False
    if isinstance(value, dict):
        return any(_looks_secret(item, depth + 1) for item in [*value, *value.values()][:100])
    if isinstance(value, list | tuple):
        return any(_looks_secret(item, depth + 1) for item in value[:100])
    return False
