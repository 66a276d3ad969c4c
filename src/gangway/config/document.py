"""The resolved configuration as plain data for `gangway config`, secrets redacted."""

from __future__ import annotations

from datetime import date
from typing import Final

from pydantic import SecretStr

from gangway.config.model import PipelineConfig

REDACTED: Final = "[REDACTED]"


def config_document(
    config: PipelineConfig, *, environment: str | None = None, json_compatible: bool = False
) -> dict[str, object]:
    """The config as nested dicts, secrets as `[REDACTED]`; one environment if one is named.

    For TOML (the default) unset values are left out, as TOML has no null; for JSON they
    are `null` and dates are ISO strings.
    """
    document = _plain(config.model_dump(), json_compatible=json_compatible)
    assert isinstance(document, dict)
    if environment is not None:
        environments = document["environments"]
        assert isinstance(environments, dict)
        document["environments"] = {environment: environments[environment]}
    return document


def _plain(value: object, *, json_compatible: bool) -> object:
    if isinstance(value, SecretStr):
        return REDACTED
    if isinstance(value, dict):
        return {
            key: _plain(item, json_compatible=json_compatible)
            for key, item in value.items()
            if item is not None or json_compatible
        }
    if isinstance(value, list | tuple):
        return [_plain(item, json_compatible=json_compatible) for item in value]
    if isinstance(value, date) and json_compatible:
        return value.isoformat()
    return value
