"""Value types of pipeline.toml: names, ports, numbers, images, URLs, each with its check."""

from __future__ import annotations

import ipaddress
import re
import types
from typing import Annotated, Final, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
)
from pydantic_core import PydanticCustomError

from gangway.config.values import check_image_reference

EnvironmentName = Literal["staging", "production"]
Severity = Literal["UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL"]
Event = Literal["started", "succeeded", "failed", "rolled_back"]
ENVIRONMENT_NAMES: Final[tuple[EnvironmentName, ...]] = ("staging", "production")
SEVERITIES: Final[tuple[Severity, ...]] = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")
EVENTS: Final[tuple[Event, ...]] = ("started", "succeeded", "failed", "rolled_back")
DEFAULT_FAIL_ON: Final[tuple[Severity, ...]] = ("HIGH", "CRITICAL")
PullPolicy = Literal["always", "missing", "never"]
PrunePolicy = Literal["pulled", "all"]
WebhookFormat = Literal["slack", "json"]


def _matching(pattern: str, error_type: str, message: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise PydanticCustomError(error_type, message)
        return value

    return AfterValidator(check)


def _check_ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise PydanticCustomError(
            "ip_address", "expected an IP address such as '127.0.0.1' or '0.0.0.0'"
        ) from None


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PydanticCustomError("http_url", "expected an http:// or https:// URL")
    return value


def _check_secret_http_url(value: SecretStr) -> SecretStr:
    _check_http_url(value.get_secret_value())
    return value


_DOCKER_HOST_EXPECTED = (
    'expected "" (the local engine), unix:///path/to/docker.sock, tcp://host:port '
    "or ssh://user@host[:port]"
)


def _check_docker_host(value: str) -> str:
    if not value:
        return value
    if not value.isascii() or not value.startswith(("unix://", "tcp://", "ssh://")):
        raise PydanticCustomError("docker_host", _DOCKER_HOST_EXPECTED)
    parts = urlsplit(value)
    try:
        port = parts.port
    except ValueError:
        raise PydanticCustomError("docker_host", "the port is not in 1–65535; " +
                                  _DOCKER_HOST_EXPECTED) from None  # fmt: skip
    if parts.scheme == "unix":
        missing = "a socket path" if not parts.path.strip("/") else ""
    else:
        missing = "a host" if not parts.hostname else ""
        if port == 0:
            missing = "a port from 1 to 65535"
    if missing:
        raise PydanticCustomError(
            "docker_host",
            "{scheme}:// needs {missing}; " + _DOCKER_HOST_EXPECTED,
            {"scheme": parts.scheme, "missing": missing},
        )
    return value


def _check_image(value: str) -> str:
    try:
        return check_image_reference(value)
    except ValueError as exc:
        raise PydanticCustomError("image_reference", str(exc)) from None


def _whole_number(value: object) -> object:
    # TOML gives ints as ints; `true`, `8085.0` or "8085" in the file is a mistake, not a
    # number to coerce (the loader turns the text of GANGWAY_* variables into ints first).
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError(
            "int_type", "expected a whole number such as 3 (not true/false, a fraction or text)"
        )
    return value


def _port_number(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError(
            "int_type", "expected a port number: a whole number from 1 to 65535, such as 8080"
        )
    return value


def _number(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("float_type", "expected a number such as 0.05")
    return value


def _flag(value: object) -> object:
    if not isinstance(value, bool):
        raise PydanticCustomError("bool_type", "expected true or false")
    return value


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


AppName = Annotated[
    str,
    _matching(
        r"[a-z][a-z0-9-]{0,40}",
        "app_name",
        "expected lowercase letters, digits and '-', starting with a letter, at most 41 "
        "characters (it names the containers <name>-blue and <name>-green)",
    ),
]
ImageRepository = Annotated[
    str,
    _matching(
        r"|[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*",
        "image_repository",
        "expected an image repository such as 'notes' or 'team/notes' (lowercase)",
    ),
]
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
RegistryAddress = Annotated[
    str,
    _matching(
        rf"(?:{_HOST_LABEL}(?:\.{_HOST_LABEL})*|\[[0-9A-Fa-f:.]+\])"
        r"(?::(?:6553[0-5]|655[0-2]\d|65[0-4]\d\d|6[0-4]\d{3}|[1-5]\d{4}|[1-9]\d{0,3}))?"
        r"(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*",
        "registry_address",
        "expected host[:port][/path] without a scheme, such as '127.0.0.1:5000' or 'ghcr.io/org'",
    ),
]
EnvVarName = Annotated[
    str,
    _matching(
        r"[A-Za-z_][A-Za-z0-9_]*",
        "env_name",
        "expected an environment variable name (letters, digits and '_')",
    ),
]
SecretName = Annotated[
    str,
    _matching(
        r"[A-Z_][A-Z0-9_]*",
        "secret_name",
        "expected an upper-case environment variable name such as 'DATABASE_URL'",
    ),
]
UrlPath = Annotated[
    str, _matching(r"/\S*", "url_path", "expected a path starting with '/', such as '/health'")
]
LivenessPath = Annotated[
    str,
    _matching(
        r"(/\S*)?",
        "url_path",
        "expected a path starting with '/', such as '/health', or \"\" to rely on the "
        "image's HEALTHCHECK alone",
    ),
]
Port = Annotated[int, BeforeValidator(_port_number), Field(ge=1, le=65535)]
WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
Number = Annotated[float, BeforeValidator(_number), Field(allow_inf_nan=False)]
Flag = Annotated[bool, BeforeValidator(_flag)]
ImageReference = Annotated[str, AfterValidator(_check_image)]
DockerHost = Annotated[str, AfterValidator(_check_docker_host)]
IpAddress = Annotated[str, AfterValidator(_check_ip)]
HttpUrl = Annotated[str, AfterValidator(_check_http_url)]
SecretHttpUrl = Annotated[SecretStr, AfterValidator(_check_secret_http_url)]


def _non_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "must not be empty")
    return value.strip()


NonEmptyText = Annotated[str, AfterValidator(_non_blank)]


def value_type(annotation: object) -> object:
    """Strip `Annotated[...]` and `X | None` down to the type that holds the value."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


class Section(BaseModel):
    """Base of every section: a key the model does not know is an error, never ignored."""

    model_config = ConfigDict(extra="forbid")
