"""Generated broken Trivy reports, from the model: ReportUnreadable with a place, or a verdict.

Keys come from walking the Report model's fields (by their Trivy aliases); each gets a
wrong type, a huge or non-finite number, a lone surrogate or deep nesting, and whole
reports are cut short. A report that is still valid (any text, in range) reaches a
verdict whose rendering encodes as UTF-8.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import get_args, get_origin

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from gangway import cli
from gangway.config.types import value_type
from gangway.errors import ReportUnreadable
from gangway.scan.policy import evaluate
from gangway.scan.report import Report, parse_report
from gangway.scan.summary import render_summary

from .conftest import REPORTS, TODAY, policy

BASE = json.loads((REPORTS / "critical-with-fix.json").read_text(encoding="utf-8"))


def walk(
    model: type[BaseModel], path: tuple[str | int, ...] = ()
) -> Iterator[tuple[str | int, ...]]:
    """The JSON paths of every field the model reads, lists entered at item 0."""
    for name, field in model.model_fields.items():
        here = (*path, field.alias or name)
        yield here
        annotation = value_type(field.annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from walk(annotation, here)
        elif get_origin(value_type(annotation)) is list:
            (item,) = get_args(value_type(annotation))
            if isinstance(item, type) and issubclass(item, BaseModel):
                yield from walk(item, (*here, 0))


PATHS = tuple(path for path in walk(Report) if path != ("SchemaVersion",))


def exists(path: tuple[str | int, ...]) -> bool:
    node: object = BASE
    for part in path[:-1]:
        if isinstance(part, int):
            if not isinstance(node, list) or len(node) <= part:
                return False
            node = node[part]
        else:
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
    return isinstance(node, dict)


PRESENT = tuple(path for path in PATHS if exists(path))


def with_json(path: tuple[str | int, ...], raw: str) -> str:
    """The base report with the value at `path` replaced by the JSON text `raw`."""
    marker = "\u0000MARK\u0000"
    document = json.loads(json.dumps(BASE))
    node = document
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = marker
    return json.dumps(document).replace(json.dumps(marker), raw)


BROKEN_VALUES = st.one_of(
    st.integers(min_value=31, max_value=4000).map(lambda digits: "9" * digits),
    st.sampled_from(["1e999", "-1e999", "NaN", "Infinity", "-Infinity"]),
    st.sampled_from(['"\\ud800"', '"x\\udfff"', '"\\udbff\\u0041"']),
    st.integers(min_value=65, max_value=3000).map(lambda depth: "[" * depth + "]" * depth),
    st.integers(min_value=65, max_value=1000).map(
        lambda depth: '{"a":' * depth + "1" + "}" * depth
    ),
)


def assert_unreadable(text: str, *, position: bool) -> str:
    with pytest.raises(ReportUnreadable) as caught:
        parse_report(text, file="report.json")
    message = str(caught.value)
    assert message.startswith("report.json: ")
    if position:
        assert "line " in message, message
        assert "column " in message, message
    assert "Traceback" not in message
    message.encode("utf-8")
    return message


@given(path=st.sampled_from(PRESENT), raw=BROKEN_VALUES)
def test_a_broken_value_anywhere_is_unreadable_with_a_position(
    path: tuple[str | int, ...], raw: str
) -> None:
    assert_unreadable(with_json(path, raw), position=True)


@given(
    raw=BROKEN_VALUES,
    where=st.sampled_from(
        [(), ("Metadata",), ("Results", 0), ("Results", 0, "Vulnerabilities", 0)]
    ),
)
def test_a_broken_value_under_an_ignored_key_is_unreadable(
    raw: str, where: tuple[str | int, ...]
) -> None:
    assert_unreadable(with_json((*where, "FutureField"), raw), position=True)


@given(
    path=st.sampled_from(PRESENT),
    raw=st.sampled_from(['{"a": 1}', "[1, 2]", "true", "3.5", '"text"', "null", "-1"]),
)
def test_a_wrong_type_is_unreadable_or_still_a_verdict(
    path: tuple[str | int, ...], raw: str
) -> None:
    text = with_json(path, raw)
    try:
        report = parse_report(text, file="report.json")
    except ReportUnreadable as exc:
        message = str(exc)
    else:
        message = "report.json: read"
    assert message.startswith("report.json: ")
    if message != "report.json: read":
        return
    render_summary(evaluate(report, policy(), today=TODAY)).encode("utf-8")


@given(cut=st.integers(min_value=1, max_value=len(json.dumps(BASE)) - 1))
def test_a_report_cut_short_is_unreadable_at_its_end(cut: int) -> None:
    text = json.dumps(BASE)[:cut]
    if not text.strip():
        return
    message = assert_unreadable(text, position=True)
    assert "at at" not in message


@given(
    path=st.sampled_from(
        [p for p in PRESENT if p[-1] in ("ArtifactName", "Target", "Title", "PkgName")]
    ),
    value=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40),
)
def test_any_real_text_still_reaches_a_verdict(path: tuple[str | int, ...], value: str) -> None:
    report = parse_report(with_json(path, json.dumps(value)), file="report.json")

    rendered = render_summary(evaluate(report, policy(), today=TODAY))

    rendered.encode("utf-8")


@settings(max_examples=max(20, settings().max_examples // 5))
@given(path=st.sampled_from(PRESENT), raw=BROKEN_VALUES)
def test_the_scan_command_exits_2_on_a_broken_report(
    tmp_path_factory: pytest.TempPathFactory, path: tuple[str | int, ...], raw: str
) -> None:
    """A sample through `gangway scan --report` in-process: exit 2, one error, no bug."""
    report = tmp_path_factory.getbasetemp() / "broken-report.json"
    report.write_text(with_json(path, raw), encoding="utf-8")
    config = Path(__file__).parents[3] / "pipeline.toml"
    out, err = io.StringIO(), io.StringIO()

    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["--config", str(config), "scan", "--report", str(report)])

    assert code == 2
    assert err.getvalue().startswith(f"error: {report}: ")
    assert "unexpected" not in err.getvalue()
