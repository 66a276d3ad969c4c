"""`gangway db`: argument handling and the checks made before any docker command runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from gangway import cli
from gangway.commands.docker import Command
from gangway.execute import DockerCli

from ..conftest import WriteConfig


@pytest.fixture
def no_docker(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """Fail the test if any docker command would run; record argv otherwise."""
    ran: list[tuple[str, ...]] = []

    def refuse(self: DockerCli, command: Command, **_: object) -> None:
        ran.append(command.argv)
        raise AssertionError("no docker command may run")

    monkeypatch.setattr(DockerCli, "run", refuse)
    return ran


def test_restore_of_an_external_database_without_its_url_stops_before_docker(
    write_config: WriteConfig,
    minimal_toml: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_docker: list[tuple[str, ...]],
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    path = write_config(minimal_toml.replace(
        "[environments.production]", '[environments.production]\nsecrets = ["DATABASE_URL"]'
    ))  # fmt: skip

    code = cli.main(["--config", str(path), "db", "restore", "--env", "production"])

    _, err = capsys.readouterr()
    assert code == 1
    assert err.strip() == (
        "error: secrets: missing secret(s) for production: DATABASE_URL\n"
        "error: export them in the deployer's environment or put them in "
        "$GANGWAY_SECRETS_DIR/NAME; nothing on the host was changed"
    )
    assert no_docker == []


def test_restore_of_an_external_database_that_is_not_a_secret_says_what_to_set(
    minimal_config: Path, capsys: pytest.CaptureFixture[str], no_docker: list[tuple[str, ...]]
) -> None:
    code = cli.main(["--config", str(minimal_config), "db", "restore", "--env", "staging", "b1"])

    _, err = capsys.readouterr()
    assert code == 1
    assert "staging has an external database but DATABASE_URL is not among its secrets" in err
    assert "environments.staging.database.kind = 'accessory'" in err
    assert no_docker == []


def test_db_needs_an_action_and_an_environment(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["db", "backups"])
    assert exited.value.code == 2
    assert "--env" in capsys.readouterr().err
