"""Load pipeline.toml with its override layers, and report every problem at once.

Layers, highest first: overrides (CLI, dotted keys) > `GANGWAY_…` environment
variables > secret files > the air-gapped profile > pipeline.toml > model defaults.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, get_origin

from pydantic import ValidationError

from gangway.config.model import ConfigOrigin, PipelineConfig
from gangway.config.problems import (
    annotation_at,
    child_annotation,
    dotted,
    is_model,
    problem_from,
)
from gangway.config.syntax import (
    Loc,
    data_defect,
    long_number_position,
    nesting_position,
    opening_position,
    printable,
    undecodable_byte,
)
from gangway.config.types import value_type
from gangway.errors import ConfigError, ConfigProblem, ValueSource

ENV_PREFIX: Final = "GANGWAY_"
ENV_SEPARATOR: Final = "__"
#: Variables with the prefix that steer gangway itself and are not config keys.
RESERVED_VARIABLES: Final = frozenset(
    {"GANGWAY_CONFIG", "GANGWAY_SECRETS_DIR", "GANGWAY_AIRGAPPED", "GANGWAY_ACTOR", "GANGWAY_TRACE"}
)
AIRGAPPED_VARIABLE: Final = "GANGWAY_AIRGAPPED"
SECRETS_DIR_VARIABLE: Final = "GANGWAY_SECRETS_DIR"
#: Images built by docker/local-images.sh, for machines that cannot pull.
AIRGAPPED_PROFILE: Final[Mapping[str, object]] = {
    "image.base_image": "local/python-slim",
    "image.builder_image": "local/python-build",
    "image.pip_no_index": True,
    "proxy.image": "local/nginx",
    "database.image": "local/postgres",
}
_TRUE: Final = frozenset({"1", "true", "yes"})
_FALSE: Final = frozenset({"", "0", "false", "no"})
# How the text of a variable or secret file is read for a key that wants a number or a flag
# (ASCII digits only: int() would read "٣" or "３" as 3).
_TEXT_INT = re.compile(r"[+-]?[0-9]{1,4000}")
_TEXT_FLOAT = re.compile(
    r"[+-]?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})(?:[eE][+-]?[0-9]{1,4})?"
)
_TEXT_FLAGS: Final = {"1": True, "true": True, "yes": True, "on": True,
                      "0": False, "false": False, "no": False, "off": False}  # fmt: skip
#: Substrings of a key name that say its value is or may be a credential.
_TOML_POSITION = re.compile(r" \(at line (\d+), column (\d+)\)$| \(at end of document\)$")
#: A file of the secrets directory that holds one of the app's secrets, not a config key.
APP_SECRET_FILE: Final = re.compile(r"[A-Z_][A-Z0-9_]*")


@dataclass(frozen=True)
class _Override:
    """One value of an override layer, addressed by its key path."""

    parts: tuple[str, ...]
    value: object
    source: ValueSource


def load_config(
    path: Path,
    *,
    environ: Mapping[str, str] | None = None,
    secrets_dir: Path | None = None,
    overrides: Mapping[str, object] | None = None,
) -> PipelineConfig:
    """Read, layer and validate the configuration; raise one ConfigError listing every problem.

    `environ` defaults to `os.environ`; `secrets_dir` to `$GANGWAY_SECRETS_DIR` (none if
    unset); `overrides` maps dotted keys (`environments.production.port`) to values.
    """
    environ = os.environ if environ is None else environ
    file = str(path)
    problems: list[ConfigProblem] = []
    layers: list[_Override] = [
        *_airgapped_layer(environ, problems),
        *_secret_layer(secrets_dir, environ, file, problems),
        *_environment_layer(environ, file, problems),
        *(
            _Override(tuple(key.split(".")), value, ValueSource("override", f"override {key}"))
            for key, value in (overrides or {}).items()
        ),
    ]
    data = _read_toml(path, problems)
    if data is None:
        raise ConfigError(problems)
    defect = data_defect(data)
    if defect is not None:
        deep_loc, message = defect
        line, column = nesting_position(path.read_text(encoding="utf-8"), comments=True)
        key = dotted(deep_loc[:8]) + (".…" if len(deep_loc) > 8 else "")
        problems.append(ConfigProblem(message, file=file, key=key, line=line, column=column))
        raise ConfigError(problems)

    provenance: dict[Loc, ValueSource] = {}
    for override in layers:
        loc = _apply(data, override, file, problems)
        if loc is not None:
            provenance = {key: src for key, src in provenance.items() if key[: len(loc)] != loc}
            provenance[loc] = override.source
    try:
        config = PipelineConfig.model_validate(data)
    except ValidationError as exc:
        problems.extend(problem_from(error, data, provenance, file) for error in exc.errors())
        raise ConfigError(problems) from None
    if problems:
        raise ConfigError(problems)
    used = dict.fromkeys(provenance.values())
    config._origin = ConfigOrigin(file=file, overrides=tuple(used))
    return config


def _read_toml(path: Path, problems: list[ConfigProblem]) -> dict[str, object] | None:
    file = str(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        problems.append(ConfigProblem("file not found", file=file))
        return None
    except UnicodeDecodeError as exc:
        problems.append(ConfigProblem(f"not UTF-8 text ({exc.reason})", file=file))
        return None
    except OSError as exc:
        problems.append(ConfigProblem(f"cannot read the file: {exc.strerror}", file=file))
        return None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_POSITION.search(message)
        line = column = None
        if match:
            message = message[: match.start()]
            if match.group(1):
                line, column = int(match.group(1)), int(match.group(2))
            else:
                # tomllib reports a string or array still open at the end of the file at
                # the end; the place to fix is where it opened.
                line, column = opening_position(text, _parses)
                message += " (opened here, still open at the end of the file)"
        problems.append(
            ConfigProblem(f"invalid TOML: {message}", file=file, line=line, column=column)
        )
    except RecursionError:
        line, column = nesting_position(text, comments=True)
        problems.append(
            ConfigProblem(
                "invalid TOML: arrays or inline tables nested too deeply (pipeline.toml "
                "needs a few levels)",
                file=file, line=line, column=column,
            )
        )  # fmt: skip
    except ValueError:
        # tomllib lets int()'s limit on digits through as a ValueError.
        found = long_number_position(text)
        line, column, digits = found if found else (None, None, 0)
        problems.append(
            ConfigProblem(
                f"invalid TOML: a number of {digits or 'too many'} digits; no key takes a "
                "number that long",
                file=file, line=line, column=column,
            )
        )  # fmt: skip
    return None


def _parses(text: str) -> bool:
    try:
        tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError, ValueError):
        return False
    return True


def _airgapped_layer(environ: Mapping[str, str], problems: list[ConfigProblem]) -> list[_Override]:
    raw = environ.get(AIRGAPPED_VARIABLE, "")
    if raw.strip().lower() in _FALSE:
        return []
    if raw.strip().lower() not in _TRUE:
        problems.append(
            ConfigProblem(
                "expected 1, true or yes (air-gapped profile on) or 0, false, no (off)",
                key=AIRGAPPED_VARIABLE,
                value=raw,
            )
        )
        return []
    source = ValueSource("airgapped")
    return [_Override(tuple(k.split(".")), v, source) for k, v in AIRGAPPED_PROFILE.items()]


def _secret_layer(
    secrets_dir: Path | None,
    environ: Mapping[str, str],
    file: str,
    problems: list[ConfigProblem],
) -> list[_Override]:
    if secrets_dir is None:
        if not environ.get(SECRETS_DIR_VARIABLE):
            return []
        secrets_dir = Path(environ[SECRETS_DIR_VARIABLE])
    if not secrets_dir.is_dir():
        problems.append(ConfigProblem("secrets directory not found", file=str(secrets_dir)))
        return []
    layer = []
    # Hidden entries are the bookkeeping of mounted secret volumes (e.g. `..data`); names
    # in capitals (`DATABASE_URL`) are the app's secrets, not keys of pipeline.toml.
    for entry in sorted(secrets_dir.iterdir()):
        if entry.name.startswith(".") or entry.is_dir() or APP_SECRET_FILE.fullmatch(entry.name):
            continue
        bad = undecodable_byte(entry.name)
        if bad is not None:
            problems.append(
                ConfigProblem(f"the file name is not UTF-8 ({bad}); secret files are named "
                              "after a key path such as registry.password",
                              file=printable(str(entry)))
            )  # fmt: skip
            continue
        try:
            value = entry.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(ConfigProblem(f"cannot read the secret file: {exc}", file=str(entry)))
            continue
        value = value.removesuffix("\n").removesuffix("\r")
        layer.append(
            _Override(tuple(entry.name.split(".")), value, ValueSource("secret", str(entry)))
        )
    return layer


def _environment_layer(
    environ: Mapping[str, str], file: str, problems: list[ConfigProblem]
) -> list[_Override]:
    layer = []
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX) or name in RESERVED_VARIABLES:
            continue
        raw = environ[name]
        source = ValueSource("env", printable(name))
        bad = undecodable_byte(name)
        if bad is not None:
            problems.append(
                ConfigProblem(f"the variable's name is not UTF-8 ({bad})", source=source)
            )
            continue
        parts = _env_key(name[len(ENV_PREFIX) :].split(ENV_SEPARATOR))

        def problem(
            message: str, parts: tuple[str, ...] = parts, source: ValueSource = source
        ) -> None:
            problems.append(ConfigProblem(message, file=file, key=dotted(parts), source=source))

        bad = undecodable_byte(raw)
        if bad is not None:
            # The value is never shown: it may be a secret, and it cannot be printed anyway.
            problem(f"the value is not UTF-8 text ({bad}); set it as UTF-8")
            continue
        try:
            value = _env_value(raw, structured=_is_structured(annotation_at(_loc(parts))))
        except ValueError as exc:
            problem(str(exc))
            continue
        defect = data_defect(value)
        if defect is not None:
            loc, message = defect
            problem(f"the JSON value {message}" + (f" at {dotted(loc)}" if loc else ""))
            continue
        layer.append(_Override(parts, value, source))
    return layer


def _env_key(segments: list[str]) -> tuple[str, ...]:
    """Lowercase each level, except keys of free-form tables (`env`), which keep their case."""
    parts: list[str] = []
    annotation: object = PipelineConfig
    for segment in segments:
        in_table = get_origin(value_type(annotation)) is dict
        part = segment if in_table else segment.lower()
        parts.append(part)
        annotation = child_annotation(annotation, int(part) if _is_index(part) else part)
    return tuple(parts)


def _is_index(part: str) -> bool:
    """A list index as a key path writes it: ASCII digits (not `²` or `٣`), not absurdly long."""
    return part.isascii() and part.isdigit() and len(part) <= 9


def _loc(parts: tuple[str, ...]) -> Loc:
    return tuple(int(part) if _is_index(part) else part for part in parts)


def _is_structured(annotation: object) -> bool:
    container = value_type(annotation)
    return get_origin(container) in (list, dict) or is_model(container)


def _env_value(raw: str, *, structured: bool) -> object:
    """JSON arrays and objects are taken as such; anything else stays a string.

    For a key that wants an array or a table, text that starts like JSON must be JSON:
    its syntax error (with line and column) is a ValueError. For any other key such text
    is a string, as it may well be (`description = "[beta] notes"`).
    """
    if not raw.lstrip().startswith(("[", "{")):
        return raw
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        if not structured:
            return raw
        raise ValueError(f"invalid JSON: {_json_message(exc)}") from None
    except RecursionError:
        line, column = nesting_position(raw, comments=False)
        raise ValueError(
            f"invalid JSON: nested too deeply at line {line}, column {column} "
            "(pipeline.toml needs a few levels)"
        ) from None
    except ValueError:
        # int()'s limit on digits, let through by json as a plain ValueError.
        found = long_number_position(raw)
        where = f" at line {found[0]}, column {found[1]}" if found else ""
        raise ValueError(f"invalid JSON: a number of too many digits{where}") from None
    if isinstance(parsed, list | dict):
        return parsed
    return raw


def _json_message(exc: json.JSONDecodeError) -> str:
    # json's "Unterminated string starting at" already ends with "at".
    joint = " " if exc.msg.endswith(" at") else " at "
    text = f"{exc.msg}{joint}line {exc.lineno}, column {exc.colno}"
    if exc.pos >= len(exc.doc.rstrip()) or exc.msg.startswith("Unterminated string"):
        text += " (the text ends early)"
    return text


def _from_text(text: str, annotation: object) -> object:
    """The text of a variable or secret file as the scalar the key wants, when it reads as one.

    Text that does not read as one stays text, for the model to refuse with the key path.
    """
    target = value_type(annotation)
    stripped = text.strip()
    if target is bool:
        return _TEXT_FLAGS.get(stripped.lower(), text)
    if target is int and _TEXT_INT.fullmatch(stripped):
        return int(stripped)
    if target is float and _TEXT_FLOAT.fullmatch(stripped):
        return float(stripped)
    return text


def _apply(
    data: dict[str, object], override: _Override, file: str, problems: list[ConfigProblem]
) -> Loc | None:
    """Set the override's value in the data; return where it landed, or None on a problem."""
    parts = override.parts

    def problem(message: str) -> None:
        problems.append(
            ConfigProblem(message, file=file, key=dotted(parts), source=override.source)
        )

    if not all(parts):
        problem("not a key path: a level is empty (levels are separated by '.' or '__')")
        return None
    annotation: object = PipelineConfig
    for depth, part in enumerate(parts):
        if get_origin(value_type(annotation)) is list and not _is_index(part):
            where = dotted(parts[:depth])
            problem(f"{part!r} is not an item number: the items of {where} are numbered "
                    "0, 1, 2... in ASCII digits")  # fmt: skip
            return None
        annotation = child_annotation(annotation, int(part) if _is_index(part) else part)
    value = override.value
    if isinstance(value, str) and override.source.kind in ("env", "secret"):
        value = _from_text(value, annotation_at(_loc(parts)))
    node: dict[str, object] | list[object] = data
    loc: list[str | int] = []
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        fresh: object = value if last else ([] if _is_index(parts[depth + 1]) else {})
        if isinstance(node, list):
            if not _is_index(part) or int(part) > len(node):
                where = dotted(tuple(loc))
                problem(f"no item {part} in {where}, which has {len(node)} (items count from 0)")
                return None
            index = int(part)
            loc.append(index)
            if index == len(node):
                node.append(fresh)
            elif last:
                node[index] = fresh
            child = node[index]
        else:
            loc.append(part)
            if last or part not in node:
                node[part] = fresh
            child = node[part]
        if last:
            break
        if not isinstance(child, dict | list):
            problem(f"cannot be set: {dotted(tuple(loc))} is not a table")
            return None
        node = child
    return tuple(loc)
