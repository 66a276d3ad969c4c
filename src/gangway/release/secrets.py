"""The app's secrets for one environment: their values, found before anything runs.

A name listed in `secrets` (delivered as an environment variable) or `secret_files`
(delivered as `/run/secrets/NAME`) takes its value from the deployer's environment,
else from the file `NAME` in `$GANGWAY_SECRETS_DIR`. One that has neither — or an
empty value — is missing, and a deploy stops before it touches the host.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gangway.config import EnvironmentConfig, PipelineConfig
from gangway.config.loader import SECRETS_DIR_VARIABLE
from gangway.errors import DeployFailed


@dataclass(frozen=True)
class SecretValues:
    """Resolved values by name: `env` ones go through docker's environment (`--env NAME`),
    `files` ones into the container as files. `missing` names have no value."""

    env: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, str] = field(default_factory=dict)
    missing: tuple[str, ...] = ()

    def values(self) -> list[str]:
        return [*self.env.values(), *self.files.values()]

    def require(self, environment: str) -> None:
        """Raise DeployFailed (step `secrets`) if any is missing."""
        if self.missing:
            raise DeployFailed(
                "secrets",
                f"missing secret(s) for {environment}: {', '.join(self.missing)}",
                hint="export them in the deployer's environment or put them in "
                f"${SECRETS_DIR_VARIABLE}/NAME; nothing on the host was changed",
            )


def resolve_secrets(
    env: EnvironmentConfig,
    environ: Mapping[str, str] | None = None,
    secrets_dir: Path | None = None,
) -> SecretValues:
    """Look up every secret the environment names (see the module docstring)."""
    environ = os.environ if environ is None else environ
    if secrets_dir is None and environ.get(SECRETS_DIR_VARIABLE):
        secrets_dir = Path(environ[SECRETS_DIR_VARIABLE])
    missing: list[str] = []

    def lookup(names: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for name in names:
            value = environ.get(name) or _read(secrets_dir, name)
            if value:
                found[name] = value
            else:
                missing.append(name)
        return found

    as_env = lookup(env.secrets)
    as_files = lookup(env.secret_files)
    return SecretValues(env=as_env, files=as_files, missing=tuple(missing))


def _read(directory: Path | None, name: str) -> str:
    if directory is None:
        return ""
    try:
        text = (directory / name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
    # Editors and `echo` add a final newline that is never part of the secret.
    return text.removesuffix("\n").removesuffix("\r")


def config_secrets(config: PipelineConfig) -> list[str]:
    """Secret values of pipeline.toml itself: webhook URLs and the registry password."""
    values = [hook.url.get_secret_value() for hook in config.notifications.webhooks]
    if config.registry.password is not None:
        values.append(config.registry.password.get_secret_value())
    return values
