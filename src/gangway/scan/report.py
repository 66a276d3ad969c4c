"""The typed model of Trivy's JSON report (SchemaVersion 2) and the one function that reads it."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError
from pydantic.alias_generators import to_pascal
from pydantic_core import ErrorDetails

from gangway.config.syntax import data_defect, line_column, nesting_position
from gangway.config.types import Severity
from gangway.errors import NumberRefused, ReportUnreadable

MAX_DEPTH: Final = 64
SCHEMA_VERSION: Final = 2
_MAX_SHOWN_ERRORS: Final = 10
#: Trivy writes line numbers and scores; no field of the model needs a longer integer.
_MAX_DIGITS: Final = 30
# A high surrogate not followed by a low one, or a low one alone, each after an even
# number of backslashes (`\\\\ud800` is a backslash and text, not an escape).
_LONE_SURROGATE = re.compile(
    r"(?<!\\)(?:\\\\)*(?:\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2})"
)


def _none_as_empty(value: object) -> object:
    # Go writes a nil slice as `null` when a field lacks `omitempty`: it means "none".
    return [] if value is None else value


NoneAsEmpty: Final = BeforeValidator(_none_as_empty)


class TrivyModel(BaseModel):
    """Base of the report model: Trivy's PascalCase keys, strict types, unknown keys skipped.

    Trivy adds fields from one version to the next, so an unknown key is not an error;
    a known key with the wrong type, or a required one missing, is.
    """

    model_config = ConfigDict(alias_generator=to_pascal, extra="ignore", strict=True, frozen=True)


class PkgIdentifier(TrivyModel):
    """How Trivy identifies a package across ecosystems."""

    purl: str | None = Field(default=None, alias="PURL")
    uid: str | None = Field(default=None, alias="UID")


class Vulnerability(TrivyModel):
    """One vulnerability of one installed package."""

    vulnerability_id: str = Field(alias="VulnerabilityID")
    pkg_name: str
    pkg_id: str | None = Field(default=None, alias="PkgID")
    pkg_path: str | None = None
    pkg_identifier: PkgIdentifier | None = None
    installed_version: str
    fixed_version: str | None = None
    status: str | None = None
    severity: Severity
    title: str | None = None
    primary_url: str | None = Field(default=None, alias="PrimaryURL")

    @property
    def has_fix(self) -> bool:
        """Whether a fixed version is known (Trivy's Status alone does not say so)."""
        return bool(self.fixed_version and self.fixed_version.strip())


class Secret(TrivyModel):
    """One secret found in a file; `match` is the matched line, kept out of str/repr."""

    rule_id: str = Field(alias="RuleID")
    category: str
    severity: Severity
    title: str
    start_line: int
    end_line: int
    match: SecretStr


class Misconfiguration(TrivyModel):
    """One failed or passed configuration check (modelled now, gated later)."""

    type: str | None = None
    id: str = Field(alias="ID")
    avd_id: str | None = Field(default=None, alias="AVDID")
    title: str | None = None
    message: str | None = None
    severity: Severity
    status: str | None = None
    primary_url: str | None = Field(default=None, alias="PrimaryURL")


class Result(TrivyModel):
    """The findings for one target: an OS, a lock file, a file with secrets."""

    target: str
    class_: str = Field(alias="Class")
    type: str | None = None
    vulnerabilities: Annotated[list[Vulnerability], NoneAsEmpty] = Field(default_factory=list)
    secrets: Annotated[list[Secret], NoneAsEmpty] = Field(default_factory=list)
    misconfigurations: Annotated[list[Misconfiguration], NoneAsEmpty] = Field(default_factory=list)


class OperatingSystem(TrivyModel):
    """The OS Trivy detected in the artifact."""

    family: str
    name: str
    eosl: bool = Field(default=False, alias="EOSL")


class Metadata(TrivyModel):
    """What Trivy knows of the artifact itself (the fields the gate reports)."""

    os: OperatingSystem | None = Field(default=None, alias="OS")
    image_id: str | None = Field(default=None, alias="ImageID")
    repo_tags: Annotated[list[str], NoneAsEmpty] = Field(default_factory=list)
    repo_digests: Annotated[list[str], NoneAsEmpty] = Field(default_factory=list)


class Report(TrivyModel):
    """A whole `trivy --format json` report."""

    schema_version: Literal[2]
    artifact_name: str
    artifact_type: str
    metadata: Metadata | None = None
    results: Annotated[list[Result], NoneAsEmpty] = Field(default_factory=list)


def load_report(path: Path) -> Report:
    """Read and validate a Trivy JSON report; raise ReportUnreadable saying what is wrong."""
    file = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ReportUnreadable(file, "file not found") from None
    except OSError as exc:
        raise ReportUnreadable(file, f"cannot read it: {exc.strerror or exc}") from None
    return parse_report(data, file=file)


def parse_report(data: bytes | str, *, file: str = "<report>") -> Report:
    """Validate the text of a Trivy JSON report; `file` names it in error messages."""
    if not data.strip():
        # Trivy writes no report (or an empty one) when it stops on a fatal error.
        raise ReportUnreadable(file, "empty file: Trivy wrote no report (did the scan fail?)")
    try:
        text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        assert isinstance(data, bytes)
        before = data[: exc.start].decode("utf-8", "replace")
        line, column = line_column(before, len(before))
        raise ReportUnreadable(
            file, f"not JSON: the file is not UTF-8 text (at line {line}, column {column})"
        ) from None
    document = _decode(text, file)
    defect = data_defect(document, limit=MAX_DEPTH)
    if defect is not None:
        raise ReportUnreadable(file, _defect_message(text, *defect))
    _check_is_trivy_report(document, file)
    try:
        return Report.model_validate(document)
    except ValidationError as exc:
        raise ReportUnreadable(file, _describe(exc)) from None


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_DIGITS:
        raise NumberRefused(text, f"a number of {len(text.lstrip('-'))} digits")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NumberRefused(text, f"a number too large to represent ({text[:20]})")
    return value


def _parse_constant(text: str) -> float:
    raise NumberRefused(text, f"{text} is not JSON (Python's extension)")


def _decode(text: str, file: str) -> object:
    """The JSON document of a report; every way it fails is ReportUnreadable with a position."""
    try:
        return json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except json.JSONDecodeError as exc:
        # json's "Unterminated string starting at" already ends with "at".
        joint = " " if exc.msg.endswith(" at") else " at "
        message = f"not JSON: {exc.msg}{joint}line {exc.lineno}, column {exc.colno}"
        if exc.pos >= len(exc.doc.rstrip()) or exc.msg.startswith("Unterminated string"):
            message += " (the file ends early: was the report cut off?)"
        raise ReportUnreadable(file, message) from None
    except NumberRefused as exc:
        line, column = line_column(text, _number_index(text, exc.text))
        raise ReportUnreadable(
            file, f"not a usable report: {exc.why} at line {line}, column {column}"
        ) from None
    except RecursionError:
        line, column = nesting_position(text, MAX_DEPTH, comments=False)
        raise ReportUnreadable(
            file, f"not a usable report: nested too deeply at line {line}, column {column}"
        ) from None


def _number_index(text: str, number: str) -> int:
    match = re.search(rf"(?<![0-9.\w]){re.escape(number)}", text)
    return match.start() if match else len(text)


def _defect_message(text: str, loc: tuple[str | int, ...], problem: str) -> str:
    where = (json_path(loc[:6]) + ("..." if len(loc) > 6 else "")) or "the document"
    if "UTF-8" in problem:
        match = _LONE_SURROGATE.search(text)
        index = match.end() - 6 if match else len(text)
        line, column = line_column(text, index)
        problem = "holds a \\u escape of a lone surrogate, which is not text"
    else:
        line, column = nesting_position(text, MAX_DEPTH, comments=False)
    return f"not a usable report: {where} {problem} (at line {line}, column {column})"


def _check_is_trivy_report(document: object, file: str) -> None:
    if not isinstance(document, dict):
        raise ReportUnreadable(
            file,
            f"not a Trivy report: expected a JSON object, got {_json_type(document)}",
        )
    if "SchemaVersion" not in document:
        raise ReportUnreadable(file, f"not a Trivy report: no SchemaVersion{_looks_like(document)}")
    version = document["SchemaVersion"]
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise ReportUnreadable(
            file,
            f"not a Trivy report the gate reads: SchemaVersion {json.dumps(version)}, "
            f"expected {SCHEMA_VERSION} (Trivy 0.20 or later with --format json)",
        )


def _looks_like(document: dict[str, object]) -> str:
    hint = " — the gate reads `trivy --format json` output"
    if "bomFormat" in document:
        return f" (it looks like a CycloneDX SBOM){hint}"
    if "spdxVersion" in document:
        return f" (it looks like an SPDX SBOM){hint}"
    if "runs" in document:
        return f" (it looks like SARIF){hint}"
    return hint


def _json_type(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null"


def _describe(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    lines = [f"invalid Trivy report ({len(errors)} problem{'s' if len(errors) != 1 else ''}):"]
    lines += [f"  {_error_line(error)}" for error in errors[:_MAX_SHOWN_ERRORS]]
    if len(errors) > _MAX_SHOWN_ERRORS:
        lines.append(f"  ... and {len(errors) - _MAX_SHOWN_ERRORS} more")
    return "\n".join(lines)


def _error_line(error: ErrorDetails) -> str:
    path = json_path(error["loc"])
    message = error["msg"]
    value = error.get("input")
    # Never echo a value from under Secrets: it may be the secret itself.
    shown = (
        error["type"] != "missing"
        and "Secrets" not in error["loc"]
        and isinstance(value, str | int | float | bool)
    )
    if shown:
        text = json.dumps(value)
        message += f" (got {text if len(text) <= 60 else text[:57] + '...'})"
    return f"{path}: {message}" if path else message


def json_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a JSON path: `Results[0].Vulnerabilities[1].Severity`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text
