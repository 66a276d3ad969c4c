"""App secrets: where their values come from, files into containers, and masking."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from gangway.commands import docker
from gangway.config import EnvironmentConfig, load_config
from gangway.errors import CommandFailed, ConfigError, DeployFailed
from gangway.execute import DockerCli
from gangway.masking import MASK, Masker
from gangway.release.secrets import resolve_secrets
from tests.support.fake_host import TARGET, FakeHost

from ..conftest import WriteConfig
from .conftest import MakeDeployer

REPO = "127.0.0.1:5000/notes"
TOKEN = "tok-9f8e7d6c5b4a"
DB_URL = "postgresql://notes:s3cr3t-p4ss@db:5432/notes"
FILES = {
    "environments.production.secret_files": ["API_TOKEN"],
    "environments.production.health.deploy_timeout": "250ms",
    "environments.production.health.interval": "50ms",
    "environments.production.watch.window": "1ms",
}


def env_config(**keys: object) -> EnvironmentConfig:
    return EnvironmentConfig.model_validate({"port": 8081, "preview_port": 8181, **keys})


# -- resolving values ---------------------------------------------------------------------


def test_values_come_from_the_environment_first_then_the_secrets_dir(tmp_path: Path) -> None:
    (tmp_path / "DATABASE_URL").write_text("from-the-file\n")
    (tmp_path / "API_TOKEN").write_text(TOKEN + "\n")
    env = env_config(secrets=["DATABASE_URL"], secret_files=["API_TOKEN"])

    values = resolve_secrets(env, {"DATABASE_URL": DB_URL}, tmp_path)

    assert dict(values.env) == {"DATABASE_URL": DB_URL}
    assert dict(values.files) == {"API_TOKEN": TOKEN}  # the final newline is not the secret
    assert values.missing == ()


def test_secrets_dir_is_read_from_gangway_secrets_dir(tmp_path: Path) -> None:
    (tmp_path / "API_TOKEN").write_text(TOKEN)
    values = resolve_secrets(
        env_config(secret_files=["API_TOKEN"]), {"GANGWAY_SECRETS_DIR": str(tmp_path)}
    )
    assert dict(values.files) == {"API_TOKEN": TOKEN}


def test_absent_or_empty_secrets_are_missing_and_stop_the_deploy() -> None:
    env = env_config(secrets=["DATABASE_URL", "SENTRY_DSN"], secret_files=["API_TOKEN"])
    values = resolve_secrets(env, {"SENTRY_DSN": ""}, None)
    assert values.missing == ("DATABASE_URL", "SENTRY_DSN", "API_TOKEN")
    with pytest.raises(DeployFailed) as caught:
        values.require("production")
    assert caught.value.step == "secrets"
    assert caught.value.reason == (
        "missing secret(s) for production: DATABASE_URL, SENTRY_DSN, API_TOKEN"
    )
    assert "nothing on the host was changed" in caught.value.hint


def test_app_secret_files_in_the_secrets_dir_are_not_config_keys(
    minimal_config: Path, tmp_path: Path
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "DATABASE_URL").write_text(DB_URL)
    (secrets / "registry.username").write_text("deploy")
    config = load_config(minimal_config, environ={}, secrets_dir=secrets)
    assert config.registry.username == "deploy"


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ({"secrets": ["TOKEN"], "secret_files": ["TOKEN"]}, "TOKEN is in both secrets and"),
        ({"env": {"TOKEN_FILE": "/x"}, "secret_files": ["TOKEN"]}, "TOKEN_FILE is set in env"),
        ({"env": {"TOKEN": "x"}, "secret_files": ["TOKEN"]}, "TOKEN is set in env"),
        ({"secret_files": ["db_password"]}, "upper-case environment variable name"),
    ],
)
def test_secret_files_are_checked_against_env_and_secrets(
    write_config: WriteConfig, keys: dict[str, object], message: str
) -> None:
    lines = [f"{key} = {json.dumps(value)}" for key, value in keys.items() if key != "env"]
    env = keys.get("env", {})
    assert isinstance(env, dict)
    table = "\n".join(f'{key} = "{value}"' for key, value in env.items())
    path = write_config(
        '[app]\nname = "notes"\n[environments.staging]\nport = 1\npreview_port = 2\n'
        "[environments.production]\nport = 3\npreview_port = 4\n" + "\n".join(lines)
        + "\n[environments.production.env]\n" + table + "\n"
    )  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert message in str(caught.value)
    assert "environments.production.secret_files" in str(caught.value)


# -- the commands ---------------------------------------------------------------------------

APP = docker.AppContainer(
    image=f"{REPO}:1.2.3",
    version="1.2.3",
    color="green",
    port=8000,
    env={"APP_ENV": "production"},
    secrets=("DATABASE_URL",),
    secret_files=("API_TOKEN",),
)


def test_secret_file_release_is_created_filled_and_started() -> None:
    create, copy, start = docker.launch_app(
        TARGET, APP, pull_policy="never", secret_files={"API_TOKEN": TOKEN}
    )
    assert create.argv[:2] == ("docker", "create")
    assert create.argv[2:] == docker.run_app(TARGET, APP, pull_policy="never").argv[3:]
    assert create.argv[-3:] == ("--env", "API_TOKEN_FILE=/run/secrets/API_TOKEN", APP.image)
    assert copy.argv == ("docker", "cp", "-", "notes-production-green:/")
    assert start.argv == ("docker", "start", "notes-production-green")
    with tarfile.open(fileobj=io.BytesIO(copy.secret_stdin or b"")) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert members["run/secrets"].isdir()
        token = members["run/secrets/API_TOKEN"]
        assert (token.mode, token.uid) == (0o444, 0)
        content = tar.extractfile(token)
        assert content is not None
        assert content.read().decode() == TOKEN


def test_release_without_secret_files_is_one_docker_run() -> None:
    plain = docker.AppContainer(APP.image, APP.version, "blue", 8000, secrets=("DATABASE_URL",))
    [run] = docker.launch_app(TARGET, plain, pull_policy="missing", secret_files={})
    assert run == docker.run_app(TARGET, plain, pull_policy="missing")


def test_migration_with_secret_files_runs_in_a_named_task_container() -> None:
    remove, create, copy, start = docker.run_task(
        TARGET, APP, ["app", "migrate"], pull_policy="never", secret_files={"API_TOKEN": TOKEN}
    )
    assert remove.argv == ("docker", "rm", "--force", "notes-production-task")
    assert create.argv[:6] == (
        "docker", "create", "--rm", "--pull=never", "--name", "notes-production-task",
    )  # fmt: skip
    assert create.argv[-3:] == (APP.image, "app", "migrate")
    assert "API_TOKEN_FILE=/run/secrets/API_TOKEN" in create.argv
    assert copy.argv == ("docker", "cp", "-", "notes-production-task:/")
    assert start.argv == ("docker", "start", "--attach", "notes-production-task")
    assert start.purpose == "run `app migrate` in 1.2.3"


def test_no_secret_value_is_in_any_argv_or_shell_line_or_repr() -> None:
    values = {"API_TOKEN": TOKEN}
    commands = [
        *docker.launch_app(TARGET, APP, pull_policy="never", secret_files=values),
        *docker.run_task(TARGET, APP, ["app", "migrate"], pull_policy="never", secret_files=values),
    ]
    for command in commands:
        shown = " ".join(command.argv) + command.shell() + repr(command) + command.purpose
        assert TOKEN not in shown
        assert str(len(TOKEN)) not in command.shell()  # not even its length
    copy = commands[1]
    assert copy.shell() == (
        "docker cp - notes-production-green:/  <<< (a tar of /run/secrets/{API_TOKEN} on stdin)"
    )


def test_the_archive_unpacks_with_tar_at_run_secrets(tmp_path: Path) -> None:
    archive = docker.secrets_archive({"API_TOKEN": TOKEN, "DB_PASSWORD": "pässwörd"})
    subprocess.run(["tar", "-x", "-C", str(tmp_path)], input=archive, check=True)
    assert (tmp_path / "run/secrets/API_TOKEN").read_text() == TOKEN
    assert (tmp_path / "run/secrets/DB_PASSWORD").read_text() == "pässwörd"
    assert docker.secrets_archive({"API_TOKEN": TOKEN}) == docker.secrets_archive(
        {"API_TOKEN": TOKEN}
    )


# -- the deployer ---------------------------------------------------------------------------


def test_deploy_copies_secret_files_into_the_migration_and_the_release(
    make_deployer: MakeDeployer,
) -> None:
    fake = FakeHost().bootstrapped(live="blue")
    fake.add_app("blue", "2.0.0")
    deployer = make_deployer(fake.executor(), overrides=FILES, secret_files={"API_TOKEN": TOKEN})

    deployer.deploy(f"{REPO}:2.1.0")

    assert fake.tasks_run == ["notes-production-task"]
    assert "notes-production-task" not in fake.containers
    assert fake.copied["notes-production-task"] == {"/run/secrets/API_TOKEN": TOKEN}
    assert fake.copied["notes-production-green"] == {"/run/secrets/API_TOKEN": TOKEN}
    assert fake.running("notes-production-green")
    labels = fake.containers["notes-production-green"]["Config"]["Labels"]
    assert TOKEN not in json.dumps(labels)
    assert TOKEN not in json.dumps(fake.history())


def test_plan_shows_the_secret_file_steps_without_values(
    make_deployer: MakeDeployer,
) -> None:
    fake = FakeHost().bootstrapped(live="blue")
    fake.add_app("blue", "2.0.0")
    deployer = make_deployer(fake.executor(), overrides=FILES, secret_files={"API_TOKEN": TOKEN})
    plan = deployer.plan_deploy("n:2", "2")
    text = "\n".join(plan.lines()) + json.dumps(plan.to_json())
    assert "docker cp - notes-production-green:/" in text
    assert "docker start --attach notes-production-task" in text
    assert TOKEN not in text


# -- masking ----------------------------------------------------------------------------------


def test_masker_replaces_every_known_value_longest_first() -> None:
    masker = Masker([DB_URL, "s3cr3t-p4ss", "abc"])
    assert masker.redact(f"url={DB_URL} pw=s3cr3t-p4ss") == "url=[REDACTED] pw=[REDACTED]"
    assert masker.redact("abc") == "abc"  # too short to be a secret worth garbling text


def test_masker_masks_the_lines_of_a_multi_line_secret() -> None:
    key = "-----BEGIN KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END KEY-----\n"
    masker = Masker([key])
    assert masker.redact("line: MIIEvQIBADANBgkqhkiG9w0BAQEFAASC") == "line: [REDACTED]"


def test_docker_output_and_command_failures_are_masked() -> None:
    MASK.add(TOKEN)
    script = "import os, sys; t = os.environ['T']; print('token', t); sys.exit('bad token ' + t)"
    command = docker.Command((sys.executable, "-c", script), "print a secret")
    with pytest.raises(CommandFailed) as caught:
        DockerCli(environ={"T": TOKEN}).run(command)
    assert TOKEN not in str(caught.value)
    assert caught.value.stdout == "token [REDACTED]\n"
    assert "bad token [REDACTED]" in caught.value.stderr


def test_binary_stdin_reaches_the_command_unchanged() -> None:
    archive = docker.secrets_archive({"API_TOKEN": TOKEN})
    command = docker.Command(
        (sys.executable, "-c", "import sys; print(len(sys.stdin.buffer.read()))"),
        "count bytes",
        secret_stdin=archive,
    )
    assert DockerCli().run(command).stdout == f"{len(archive)}\n"
