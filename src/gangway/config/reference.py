"""The Markdown reference of pipeline.toml, generated from the models' field descriptions."""

from __future__ import annotations

import inspect
import json
from datetime import date, timedelta
from typing import Literal, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from gangway.config.durations import format_duration
from gangway.config.model import PipelineConfig
from gangway.config.types import value_type

_INTRO = (
    "Generated from the models by `gangway config --reference`. Durations are written "
    '`"250ms"`, `"5s"`, `"1m30s"`, `"2h"` or as a number of seconds. Any key can be '
    "overridden by an environment variable (`GANGWAY_` + the key path in capitals, levels "
    "joined by `__`, e.g. `GANGWAY_ENVIRONMENTS__PRODUCTION__PORT`) or by a file named "
    "after the key path (`registry.password`) in the secrets directory "
    "(`GANGWAY_SECRETS_DIR`)."
)


def render_reference() -> str:
    """The reference: one `###` section per TOML table, in file order, with a key table."""
    blocks = [_INTRO]
    for name, field in PipelineConfig.model_fields.items():
        model = _model_of(field.annotation)
        if model is not None:
            _render_section(blocks, (name,), model, array=False)
    return "\n\n".join(blocks) + "\n"


def _render_section(
    blocks: list[str], path: tuple[str, ...], model: type[BaseModel], *, array: bool
) -> None:
    members = {_model_of(field.annotation) for field in model.model_fields.values()}
    if len(model.model_fields) > 1 and len(members) == 1 and None not in members:
        # A table of same-shaped tables (the environments): document the shape once.
        (member,) = members
        assert member is not None
        names = list(model.model_fields)
        heading = " and ".join(f"`[{'.'.join((*path, name))}]`" for name in names)
        _render_table(blocks, heading, member)
        _render_children(blocks, (*path, "<name>"), member)
        return
    dotted = ".".join(path)
    _render_table(blocks, f"`[[{dotted}]]`" if array else f"`[{dotted}]`", model)
    _render_children(blocks, path, model)


def _render_children(blocks: list[str], path: tuple[str, ...], model: type[BaseModel]) -> None:
    for name, field in model.model_fields.items():
        child = _model_of(field.annotation)
        if child is not None:
            _render_section(blocks, (*path, name), child, array=False)
        elif (item := _list_item_model(field.annotation)) is not None:
            _render_section(blocks, (*path, name), item, array=True)


def _render_table(blocks: list[str], heading: str, model: type[BaseModel]) -> None:
    blocks.append(f"### {heading}")
    blocks.append(inspect.cleandoc(model.__doc__ or ""))
    rows = [
        "| Key | Type | Default | Description |",
        "| --- | --- | --- | --- |",
    ]
    for name, field in model.model_fields.items():
        if _model_of(field.annotation) or _list_item_model(field.annotation):
            continue
        cells = (f"`{name}`", _type_name(field.annotation), _default(field), field.description)
        rows.append("| " + " | ".join(_cell(cell or "") for cell in cells) + " |")
    if len(rows) > 2:
        blocks.append("\n".join(rows))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _model_of(annotation: object) -> type[BaseModel] | None:
    annotation = value_type(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _list_item_model(annotation: object) -> type[BaseModel] | None:
    annotation = value_type(annotation)
    if get_origin(annotation) is list:
        return _model_of(get_args(annotation)[0])
    return None


_TYPE_NAMES: dict[object, str] = {
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    date: "date",
    timedelta: "duration",
    SecretStr: "string (secret)",
}


def _type_name(annotation: object, *, plural: bool = False) -> str:
    annotation = value_type(annotation)
    origin = get_origin(annotation)
    if origin is Literal:
        choices = ", ".join(f"`{json.dumps(choice)}`" for choice in get_args(annotation))
        return choices if plural else f"one of {choices}"
    if origin is list:
        return f"array of {_type_name(get_args(annotation)[0], plural=True)}"
    if origin is dict:
        return f"table of {_type_name(get_args(annotation)[1], plural=True)}"
    name = _TYPE_NAMES.get(annotation, str(annotation))
    return f"{name}s" if plural else name


def _default(field: FieldInfo) -> str:
    extra = field.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("default_doc"), str):
        return str(extra["default_doc"])
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    return "unset" if value is None else f"`{_toml_value(value)}`"


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return str(value)
