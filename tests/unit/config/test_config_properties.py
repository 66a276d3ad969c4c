"""Generated hostile input, from the model itself: every bad value is a ConfigError with its key.

The keys come from walking PipelineConfig's fields; each gets values of the wrong type,
out of its range, nested deep, in non-ASCII digits or not encodable, through the file,
`GANGWAY_*` variables and secret files. Valid in-range values stay accepted.
"""

from __future__ import annotations

import contextlib
import io
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Literal, get_args, get_origin

import pytest
import tomli_w
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from gangway import cli
from gangway.config import PipelineConfig, load_config
from gangway.config.durations import AtMost
from gangway.config.types import value_type
from gangway.errors import ConfigError

from ..conftest import MINIMAL_TOML

TOKEN = "T0KEN-hooks-5ecret-9f8e7d"
WEBHOOK = f"https://hooks.example.com/services/{TOKEN}"
#: Ports of the minimal config: a valid mutation must not collide with them.
TAKEN_PORTS = frozenset({8080, 8180, 8081, 8181})
Kind = Literal["port", "int", "float", "bool", "duration", "literal", "text", "secret", "other"]


@dataclass(frozen=True)
class Leaf:
    """One key of pipeline.toml that holds a value (not a table), found by walking the model."""

    loc: tuple[str | int, ...]
    kind: Kind
    low: int | float | None = None
    high: int | float | None = None
    maximum: timedelta | None = None
    choices: tuple[str, ...] = ()

    @property
    def dotted(self) -> str:
        return ".".join(str(part) for part in self.loc)


def _bounds(field: FieldInfo) -> tuple[float | None, float | None]:
    low = high = None
    for item in field.metadata:
        low = getattr(item, "ge", low)
        high = getattr(item, "le", high)
    return low, high


def _leaf(loc: tuple[str | int, ...], field: FieldInfo) -> Leaf:
    annotation = value_type(field.annotation)
    low, high = _bounds(field)
    maximum = next((m.maximum for m in field.metadata if isinstance(m, AtMost)), None)
    if annotation is timedelta:
        return Leaf(loc, "duration", maximum=maximum)
    if annotation is bool:
        return Leaf(loc, "bool")
    if annotation is int:
        kind: Kind = "port" if high == 65535 else "int"
        return Leaf(loc, kind, low=low, high=high)
    if annotation is float:
        return Leaf(loc, "float", low=low, high=high)
    if get_origin(annotation) is Literal:
        return Leaf(loc, "literal", choices=tuple(str(c) for c in get_args(annotation)))
    if annotation is SecretStr:
        return Leaf(loc, "secret")
    if annotation is str:
        return Leaf(loc, "text")
    return Leaf(loc, "other")


def walk(model: type[BaseModel], loc: tuple[str | int, ...] = ()) -> Iterator[Leaf]:
    """Every value key under `model`; lists of tables are entered at item 0."""
    for name, field in model.model_fields.items():
        annotation = value_type(field.annotation)
        here = (*loc, name)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from walk(annotation, here)
        elif get_origin(annotation) is list and _is_model(get_args(annotation)[0]):
            yield from walk(get_args(annotation)[0], (*here, 0))
        else:
            yield _leaf(here, field)


def _is_model(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


LEAVES = tuple(walk(PipelineConfig))
BY_KIND = {kind: [leaf for leaf in LEAVES if leaf.kind == kind] for kind in get_args(Kind)}
NUMERIC = [leaf for leaf in LEAVES if leaf.kind in ("port", "int", "float", "duration", "bool")]


def base_document() -> dict[str, object]:
    """The minimal config plus one entry of each list of tables, so their keys exist."""
    document = tomllib.loads(MINIMAL_TOML)
    document["scan"] = {"ignore": [{"id": "CVE-1", "reason": "r", "expires": date(2030, 1, 1)}]}
    document["notifications"] = {"webhooks": [{"url": WEBHOOK}]}
    return document


def with_value(loc: tuple[str | int, ...], value: object) -> dict[str, object]:
    document = base_document()
    node: object = document
    for part in loc[:-1]:
        if isinstance(node, list):
            assert isinstance(part, int)
            node = node[part]
        else:
            assert isinstance(node, dict)
            node = node.setdefault(part, {})
    if isinstance(node, list):
        assert isinstance(loc[-1], int)
        node[loc[-1]] = value
    else:
        assert isinstance(node, dict)
        node[loc[-1]] = value
    return document


# --- values a key must refuse -------------------------------------------------------------

NON_ASCII_DIGITS = st.sampled_from(["５", "²", "٣", "۸۰", "８０８５", "१२"])
HUGE_INTS = st.one_of(
    st.integers(min_value=10**12, max_value=10**30),
    st.integers(min_value=12, max_value=3900).map(lambda digits: 10**digits),
)
BAD_FLOATS = st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e300, -1e300])


def deep(depth: int) -> object:
    value: object = "x"
    for _ in range(depth):
        value = [value]
    return value


def wrong_for(leaf: Leaf) -> st.SearchStrategy[object]:
    """Values of the wrong type or out of range for this key, as TOML would hold them."""
    common = st.one_of(
        st.dictionaries(st.sampled_from(["a", "b"]), st.integers(), min_size=1, max_size=2),
        st.integers(min_value=33, max_value=120).map(deep),
    )
    if leaf.kind == "port":
        return st.one_of(
            common,
            st.booleans(),
            st.floats(allow_nan=True),
            st.integers(1, 65535).map(str),
            st.integers(max_value=0),
            st.integers(min_value=65536),
            HUGE_INTS,
            NON_ASCII_DIGITS,
        )
    if leaf.kind == "int":
        assert leaf.low is not None
        options = [common, st.booleans(), st.floats(), st.text(max_size=5)]
        options.append(st.integers(max_value=int(leaf.low) - 1))
        options.append(HUGE_INTS)
        return st.one_of(*options)
    if leaf.kind == "float":
        return st.one_of(common, st.booleans(), BAD_FLOATS, st.floats(min_value=1.0001), st.text())
    if leaf.kind == "duration":
        assert leaf.maximum is not None
        over = int(leaf.maximum.total_seconds()) + 1
        return st.one_of(
            common,
            st.booleans(),
            BAD_FLOATS,
            HUGE_INTS,
            st.integers(min_value=over, max_value=10**20),
            st.integers(min_value=over).map(lambda n: f"{n}s"),
            st.integers(min_value=1, max_value=10**40).map(lambda n: f"{n}h" if n > 24 else "0s"),
            st.sampled_from(["５s", "1٣s", "inf", "nan", "1e300", "-5s", "", "5 sec", "1e3"]),
            st.integers(max_value=0),
        )
    if leaf.kind == "bool":
        return st.one_of(common, st.integers(), st.sampled_from(["true", "yes", "1", ""]))
    if leaf.kind == "literal":
        return st.one_of(
            common, st.integers(), st.text(max_size=8).filter(lambda t: t not in leaf.choices)
        )
    return common


# --- the assertions every refusal must meet ------------------------------------------------


def assert_clear_refusal(text: str, key: str, *, secret: str | None = None) -> None:
    assert key in text, text
    assert "unexpected" not in text
    assert "Traceback" not in text
    if secret is not None:
        assert secret not in text, text


def refusal(path: Path, **kwargs: object) -> str:
    with pytest.raises(ConfigError) as caught:
        load_config(path, **kwargs)  # type: ignore[arg-type]
    return str(caught.value)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


def write(workdir: Path, document: dict[str, object]) -> Path:
    path = workdir / "pipeline.toml"
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    return path


# --- the categories ---------------------------------------------------------------------


@given(data=st.data())
def test_a_wrong_value_in_the_file_is_refused_with_its_key(
    workdir: Path, data: st.DataObject
) -> None:
    leaf = data.draw(st.sampled_from(NUMERIC + BY_KIND["literal"]))
    value = data.draw(wrong_for(leaf))
    path = write(workdir, with_value(leaf.loc, value))

    assert_clear_refusal(refusal(path, environ={}), leaf.dotted, secret=TOKEN)


@given(data=st.data())
def test_a_value_in_range_in_the_file_is_accepted(workdir: Path, data: st.DataObject) -> None:
    leaf = data.draw(st.sampled_from(NUMERIC))
    value: object
    if leaf.kind == "port":
        value = data.draw(st.integers(1, 65535).filter(lambda p: p not in TAKEN_PORTS))
    elif leaf.kind == "int":
        value = data.draw(st.integers(int(leaf.low or 0), int(leaf.high or 10**6)))
    elif leaf.kind == "float":
        value = data.draw(st.floats(min_value=0, max_value=1))
    elif leaf.kind == "bool":
        value = data.draw(st.booleans())
    else:
        assert leaf.maximum is not None
        millis = data.draw(st.integers(1, int(leaf.maximum.total_seconds() * 1000)))
        value = f"{millis}ms"
    config = load_config(write(workdir, with_value(leaf.loc, value)), environ={})

    read: object = config
    for part in leaf.loc:
        read = read[part] if isinstance(part, int) else getattr(read, part)  # type: ignore[index]
    expected = timedelta(milliseconds=int(str(value)[:-2])) if leaf.kind == "duration" else value
    assert read == expected


def env_name(leaf: Leaf) -> str:
    return "GANGWAY_" + "__".join(str(part).upper() for part in leaf.loc)


def text_wrong_for(leaf: Leaf) -> st.SearchStrategy[str]:
    """Text of a variable or secret file that cannot be the key's value."""
    if leaf.kind in ("port", "int"):
        return st.one_of(
            NON_ASCII_DIGITS,
            st.sampled_from(["true", "8085.0", "1e3", "0x10", "", " ", "9" * 5000]),
            HUGE_INTS.map(str),
            st.integers(max_value=0).map(str),
        )
    if leaf.kind == "float":
        return st.sampled_from(["inf", "nan", "1e400", "２", "yes", "1.5", "-0.1", "0x1"])
    if leaf.kind == "duration":
        return st.one_of(
            st.sampled_from(["５s", "99999999999h", "inf", "nan", "1e300", "-5s", "5 sec"]),
            st.integers(min_value=10**6).map(str),
            st.integers(min_value=1, max_value=4000).map(lambda n: "9" * n + "h"),
        ).filter(lambda t: not (len(t) < 6 and t[:-1].isdigit() and int(t[:-1] or 0) <= 24))
    if leaf.kind == "bool":
        return st.sampled_from(["maybe", "２", "truthy", "-1", "nope"])
    return st.sampled_from(["[[[[" * 300, "{" * 3000])


@given(data=st.data())
def test_a_wrong_variable_is_refused_naming_it(workdir: Path, data: st.DataObject) -> None:
    leaf = data.draw(st.sampled_from(NUMERIC))
    text = data.draw(text_wrong_for(leaf))
    name = env_name(leaf)
    path = write(workdir, base_document())

    message = refusal(path, environ={name: text})

    assert_clear_refusal(message, leaf.dotted, secret=TOKEN)
    assert name in message


@given(data=st.data())
def test_undecodable_or_deep_variables_are_refused(workdir: Path, data: st.DataObject) -> None:
    leaf = data.draw(st.sampled_from(LEAVES))
    text = data.draw(
        st.one_of(
            st.binary(min_size=1, max_size=8)
            .filter(lambda raw: not _utf8(raw))
            .map(lambda raw: raw.decode("utf-8", "surrogateescape")),
            st.integers(40, 3000).map(lambda depth: "[" * depth + "]" * depth),
            st.sampled_from(['["\\ud800"]', '{"A": "\\udfff"}', '{"A": ' + "9" * 5000 + "}"]),
        )
    )
    if text.startswith(("[", "{")) and leaf.kind != "other":
        # JSON-looking text under a key of text stays text; under an array key it is read.
        leaf = next(leaf for leaf in LEAVES if leaf.dotted == "environments.staging.secrets")
    name = env_name(leaf)

    message = refusal(write(workdir, base_document()), environ={name: text})

    assert_clear_refusal(message, leaf.dotted, secret=TOKEN)


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@given(data=st.data())
def test_a_wrong_secret_file_is_refused_and_never_shown(workdir: Path, data: st.DataObject) -> None:
    leaf = data.draw(st.sampled_from(NUMERIC))
    text = data.draw(text_wrong_for(leaf))
    secrets = workdir / "secrets"
    secrets.mkdir(exist_ok=True)
    for old in secrets.iterdir():
        old.unlink()
    (secrets / leaf.dotted).write_text(text, encoding="utf-8")

    message = refusal(write(workdir, base_document()), environ={}, secrets_dir=secrets)

    assert_clear_refusal(message, leaf.dotted, secret=text if len(text.strip()) >= 6 else None)
    assert "[REDACTED]" in message or "got" not in message


@given(
    index=st.one_of(NON_ASCII_DIGITS, st.sampled_from(["1.5", "-1", "x", "9" * 200])),
    via=st.sampled_from(["env", "secret"]),
)
def test_a_list_index_that_is_not_ascii_digits_is_a_user_error(
    workdir: Path, index: str, via: str
) -> None:
    key = f"notifications.webhooks.{index}.url"
    secrets = workdir / "index-secrets"
    secrets.mkdir(exist_ok=True)
    for old in secrets.iterdir():
        old.unlink()
    if via == "secret":
        (secrets / key).write_text(WEBHOOK, encoding="utf-8")
        environ: dict[str, str] = {}
    else:
        environ = {f"GANGWAY_NOTIFICATIONS__WEBHOOKS__{index}__URL": WEBHOOK}

    message = refusal(write(workdir, base_document()), environ=environ, secrets_dir=secrets)

    assert_clear_refusal(message, "notifications.webhooks", secret=TOKEN)


WEBHOOK_SHAPES = st.one_of(
    st.just(WEBHOOK),
    st.just([WEBHOOK]),
    st.just({"href": WEBHOOK}),
    st.just(["ftp://x/" + TOKEN]),
    st.just(f"hooks.example.com/{TOKEN}"),
)


@given(shape=WEBHOOK_SHAPES, where=st.sampled_from(["webhooks", "webhooks.0", "webhooks.0.url"]))
def test_a_webhook_in_the_wrong_shape_is_never_echoed(
    workdir: Path, shape: object, where: str
) -> None:
    assume(not (shape == WEBHOOK and where == "webhooks.0.url"))
    loc: tuple[str | int, ...] = (
        "notifications",
        *(int(p) if p.isdigit() else p for p in where.split(".")),
    )
    path = write(workdir, with_value(loc, shape))

    message = refusal(path, environ={})

    assert_clear_refusal(message, f"notifications.{where}", secret=TOKEN)


@given(
    shape=st.sampled_from(
        [WEBHOOK, f'["{WEBHOOK}"]', f'{{"href": "{WEBHOOK}"}}', f"ftp://{TOKEN}"]
    ),
    name=st.sampled_from(
        ["GANGWAY_NOTIFICATIONS__WEBHOOKS", "GANGWAY_NOTIFICATIONS__WEBHOOKS__0__URL"]
    ),
)
def test_a_webhook_override_in_the_wrong_shape_is_never_echoed(
    workdir: Path, shape: str, name: str
) -> None:
    assume(not (shape == WEBHOOK and name.endswith("__URL")))
    message = refusal(write(workdir, base_document()), environ={name: shape})

    assert_clear_refusal(message, "notifications.webhooks", secret=TOKEN)


# Few distinct inputs, and each one a RecursionError to recover from: a smaller sample.
@settings(max_examples=min(settings().max_examples, 150))
@given(depth=st.integers(40, 1500), inline=st.booleans())
def test_deep_toml_is_refused_with_a_position(workdir: Path, depth: int, inline: bool) -> None:
    opening, closing = ("{a = ", "}") if inline else ("[", "]")
    path = workdir / "pipeline.toml"
    path.write_text(f"x = {opening * depth}1{closing * depth}\n" + MINIMAL_TOML, encoding="utf-8")

    message = refusal(path, environ={})

    assert message.startswith(f"{path}:1:"), message
    assert "deep" in message or "nested" in message


@given(data=st.data())
def test_the_config_command_exits_2_with_the_key(workdir: Path, data: st.DataObject) -> None:
    """A sample of the file category, through `gangway config` in-process."""
    leaf = data.draw(st.sampled_from(NUMERIC))
    value = data.draw(wrong_for(leaf))
    path = write(workdir, with_value(leaf.loc, value))
    out, err = io.StringIO(), io.StringIO()

    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["--config", str(path), "config"])

    assert code == 2
    assert out.getvalue() == ""
    assert err.getvalue().startswith("error: ")
    assert_clear_refusal(err.getvalue(), leaf.dotted, secret=TOKEN)


test_the_config_command_exits_2_with_the_key = settings(
    max_examples=max(20, settings().max_examples // 5)
)(test_the_config_command_exits_2_with_the_key)
